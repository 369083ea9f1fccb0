/**
 * cdk-nag for the example app: the AwsSolutions rule pack on every synthesis, and the example
 * stack's acknowledged findings (those spool's constructs cannot avoid, from `acknowledgements.ts`,
 * exported by `spool-tasks/cdk`). cdk-nag 3.x reports through CDK's policy validation: an
 * unacknowledged error fails `app.synth()` (and so `cdk synth`, exit code 1), and the unacknowledged
 * findings are listed in the cloud assembly's `validation-report.json`.
 *
 * Only the example app imports this module: cdk-nag is a development dependency of spool, not a
 * dependency of `spool-tasks/cdk`.
 *
 * @module
 */

import { type App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import {
  acknowledgeEnqueueGrantFindings,
  acknowledgeReadResultsGrantFindings,
  acknowledgeTaskQueueFindings,
  acknowledgeTaskQueueHttpApiFindings,
} from './acknowledgements.js';
import type { SpoolExampleStack } from './app.js';

/** Register cdk-nag's AwsSolutions checks on the app (the 3.x form; the Aspects form of 2.x throws). */
export function checkWithCdkNag(app: App): void {
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
}

/** Acknowledge the findings of the example stack that cannot be fixed. */
export function acknowledgeExampleFindings(stack: SpoolExampleStack): void {
  acknowledgeTaskQueueFindings(stack.tasks);
  acknowledgeEnqueueGrantFindings(stack.producer.role ?? stack.producer, stack.tasks);
  acknowledgeReadResultsGrantFindings(stack.producer.role ?? stack.producer, stack.tasks);
  if (stack.httpApi !== undefined) {
    acknowledgeTaskQueueHttpApiFindings(stack.httpApi);
    acknowledgeEnqueueGrantFindings(stack.httpApi.role, stack.tasks, { delays: false });
    acknowledgeReadResultsGrantFindings(stack.httpApi.role, stack.tasks);
  }
}
