/**
 * `npm run deploy:local`: bootstrap the local account and deploy the example stack to the endpoint
 * started by `npm run local:up` (port GATEWAY_PORT, default 4566). Prints the outputs and the
 * environment to use them. `npm run deploy:local -- --destroy` removes the stack.
 */

import { join } from 'node:path';
import { deployExample, destroyExample } from './cdklocal.js';

const port = Number(process.env.GATEWAY_PORT ?? 4566);
const say = (line: string) => process.stderr.write(`${line}\n`);

async function main(): Promise<void> {
  if (process.argv.includes('--destroy')) {
    await destroyExample(port, say);
    return;
  }
  const outputs = await deployExample(port, join('.spool', 'cdk-outputs.json'), say);
  process.stdout.write(
    `${JSON.stringify(outputs, null, 2)}\n` +
      `export SPOOL_QUEUE_URL=${outputs.QueueUrl} SPOOL_DLQ_URL=${outputs.DeadLetterQueueUrl} ` +
      `SPOOL_TABLE=${outputs.TableName} SPOOL_BUCKET=${outputs.BucketName} AWS_ENDPOINT_URL=http://127.0.0.1:${port} AWS_REGION=us-east-1 ` +
      'AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test\n',
  );
}

main().catch((error: unknown) => {
  say(`deploy:local failed: ${error instanceof Error ? error.message : String(error)}`);
  say('Is the endpoint running? Start it with `npm run local:up`.');
  process.exitCode = 1;
});
