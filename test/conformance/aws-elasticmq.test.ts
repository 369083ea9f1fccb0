/**
 * Parts of the conformance suite on the AWS backend with SQS on ElasticMQ (DynamoDB and Scheduler
 * on the endpoint globalSetup provided, ministack). ElasticMQ keeps a long poll open at the server
 * after its client aborted, as real SQS does (aws-sdk-js#2350) and ministack does not: the stop
 * path of the worker is checked against that here.
 *
 * ElasticMQ is started here (localstack/elasticmq.ts installs it from Maven Central on first use).
 * Without Java the file is skipped, except in CI (`CI` set), where it fails. On real AWS
 * (`SPOOL_TEST_REAL_AWS=1`, no local endpoint) it is skipped: SQS there is the real thing.
 */

import { SQSClient } from '@aws-sdk/client-sqs';
import { backendConfig, createClients, openAwsBackend, provisionResources } from 'spool-tasks/aws';
import { afterAll, beforeAll, describe, inject } from 'vitest';
import { javaMissing, type RunningElasticMq, startElasticMq } from '../../localstack/elasticmq.js';
import { freePort } from '../../localstack/ministack.js';
import { deletingOnClose, localCredentials, testPrefix } from '../aws/resources.js';
import { basics } from './basics.suite.js';
import type { BackendFactory } from './harness.js';
import { lifecycle } from './lifecycle.suite.js';
import { receiveWindow } from './receive-window.suite.js';
import { shutdown } from './shutdown.suite.js';

const inCi = process.env.CI !== undefined && process.env.CI !== '' && process.env.CI !== 'false';
const noJava = javaMissing();
const realAws = inject('awsEndpoint') === '';
const skipWhy = realAws
  ? 'no local endpoint (real AWS run)'
  : noJava !== undefined && !inCi
    ? `${noJava}; in CI this fails instead`
    : undefined;
if (skipWhy !== undefined) process.stderr.write(`aws-elasticmq.test.ts skipped: ${skipWhy}\n`);

let elasticMq: RunningElasticMq | undefined;

beforeAll(async () => {
  if (skipWhy !== undefined) return;
  elasticMq = await startElasticMq({ port: await freePort(), region: inject('awsRegion') });
}, 120_000);
afterAll(async () => {
  await elasticMq?.stop();
});

const factory: BackendFactory = {
  name: 'aws (SQS on ElasticMQ + DynamoDB on the local endpoint)',
  async create({ now }) {
    if (elasticMq === undefined) throw new Error('ElasticMQ did not start (see beforeAll)');
    localCredentials();
    const region = inject('awsRegion');
    const where = { region, endpoint: inject('awsEndpoint') };
    const clients = {
      ...createClients(where),
      sqs: new SQSClient({
        region,
        endpoint: elasticMq.endpoint,
        credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
      }),
    };
    const resources = await provisionResources(clients, { prefix: testPrefix() });
    return deletingOnClose(openAwsBackend({ ...backendConfig(resources, where), clients, now }), clients, resources);
  },
};

/** `SPOOL_TEST_REPEAT=<n>` registers the suites n times (with `-t` for one test: is it flaky?). */
const rounds = Math.max(1, Number(process.env.SPOOL_TEST_REPEAT ?? 1) || 1);

describe.skipIf(skipWhy !== undefined)(`conformance: ${factory.name}`, () => {
  for (let round = 1; round <= rounds; round++) {
    describe(rounds === 1 ? 'suites' : `round ${round}`, () => {
      basics(factory);
      lifecycle(factory);
      receiveWindow(factory);
      shutdown(factory);
    });
  }
});
