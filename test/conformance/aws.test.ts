import { freshAwsBackend } from '../aws/resources.js';
import { describeConformance } from './conformance.js';

describeConformance({
  name: 'aws (SQS FIFO + DynamoDB)',
  async create({ now }) {
    return (await freshAwsBackend({ now })).backend;
  },
});
