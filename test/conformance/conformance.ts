/**
 * The conformance suite: every semantic of spool, run against one backend. Each backend's test
 * file calls {@link describeConformance} with its factory; a behaviour that differs between
 * backends is a bug in one of them.
 */

import { describe } from 'vitest';
import { atomicity } from './atomicity.suite.js';
import { badInput } from './bad-input.suite.js';
import { basics } from './basics.suite.js';
import { claimCheck } from './claim-check.suite.js';
import { exactlyOnce } from './exactly-once.suite.js';
import { faults } from './faults.suite.js';
import type { BackendFactory } from './harness.js';
import { lifecycle } from './lifecycle.suite.js';
import { locks } from './locks.suite.js';
import { receiveWindow } from './receive-window.suite.js';
import { retries } from './retries.suite.js';
import { scheduling } from './scheduling.suite.js';
import { security } from './security.suite.js';
import { shutdown } from './shutdown.suite.js';

export type { BackendFactory } from './harness.js';

/** Run the whole suite against `factory`'s backend. */
export function describeConformance(factory: BackendFactory): void {
  describe(`conformance: ${factory.name}`, () => {
    basics(factory);
    exactlyOnce(factory);
    retries(factory);
    locks(factory);
    badInput(factory);
    lifecycle(factory);
    shutdown(factory);
    scheduling(factory);
    atomicity(factory);
    faults(factory);
    receiveWindow(factory);
    claimCheck(factory);
    security(factory);
  });
}
