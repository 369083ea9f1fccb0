/**
 * Powertools for AWS Lambda, plugged into spool: its Logger as spool's logger (Lambda context,
 * cold start and trace id on every line), and its Metrics as a middleware (CloudWatch embedded
 * metric format, one metric set per attempt, dimension `task`).
 *
 * @module
 */

import type { Logger as PowertoolsLogger } from '@aws-lambda-powertools/logger';
import { type Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { LogFields, Logger } from '../log/logger.js';
import type { Middleware } from '../task/middleware.js';

/** spool's {@link Logger} writing through a Powertools Logger. */
export function fromPowertoolsLogger(logger: PowertoolsLogger): Logger {
  return {
    debug: (message, fields) => logger.debug(message, plain(fields)),
    info: (message, fields) => logger.info(message, plain(fields)),
    warn: (message, fields) => logger.warn(message, plain(fields)),
    error: (message, fields) => logger.error(message, plain(fields)),
    child: (fields) => {
      const child = logger.createChild();
      child.appendKeys(plain(fields));
      return fromPowertoolsLogger(child);
    },
  };
}

type Unit = (typeof MetricUnit)[keyof typeof MetricUnit];

function plain(fields: LogFields | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(fields ?? {})) {
    if (value !== undefined) out[key] = value instanceof Error ? { name: value.name, message: value.message } : value;
  }
  return out;
}

/**
 * A middleware publishing, per attempt and with dimension `task`: `AttemptSucceeded`,
 * `AttemptFailed`, `AttemptRetried` (counts), `AttemptDuration` (ms), and `Enqueued` (count).
 */
export function metricsMiddleware(metrics: Metrics): Middleware {
  const publish = (task: string, name: string, value: number, unit: Unit = MetricUnit.Count) => {
    const single = metrics.singleMetric();
    single.addDimension('task', task);
    single.addMetric(name, unit, value);
  };
  return {
    name: 'powertools-metrics',
    onEnqueue: (event) => publish(event.task, 'Enqueued', 1),
    afterRun: (event) => {
      publish(event.task, 'AttemptSucceeded', 1);
      publish(event.task, 'AttemptDuration', event.durationMs, MetricUnit.Milliseconds);
    },
    onFailure: (event) => {
      publish(event.task, event.willRetry ? 'AttemptRetried' : 'AttemptFailed', 1);
      publish(event.task, 'AttemptDuration', event.durationMs, MetricUnit.Milliseconds);
    },
  };
}
