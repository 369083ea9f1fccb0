/**
 * `spool-tasks/aws`: the AWS backend (SQS FIFO + DynamoDB + EventBridge Scheduler) and the
 * provisioning of its resources on any AWS endpoint. Needs the AWS SDK v3 clients
 * `@aws-sdk/client-sqs`, `@aws-sdk/client-dynamodb`, `@aws-sdk/lib-dynamodb`,
 * `@aws-sdk/util-dynamodb`, `@aws-sdk/client-scheduler` and `@aws-sdk/client-s3` (optional peer dependencies). Imports
 * no SQLite code.
 *
 * @module
 */

export {
  type AwsBackend,
  type AwsBackendOptions,
  type AwsClients,
  createClients,
  openAwsBackend,
} from './backend.js';
export { type AwsBackendConfig, type ResolvedAwsConfig, resolveAwsConfig } from './config.js';
export {
  type AttributeType,
  type BlobLifecycleRule,
  blobLifecycleRules,
  bucketNameOf,
  type KeyAttribute,
  type LayoutNames,
  layoutNames,
  MAX_PREFIX_LENGTH,
  prefixProblems,
  SPOOL_LAYOUT,
  type SpoolLayout,
} from './layout.js';
export {
  type BackendLocation,
  backendConfig,
  backendEnvironment,
  type DeprovisionOutcome,
  type DeprovisionReport,
  deleteResources,
  deprovisionResources,
  type ProvisionClients,
  type ProvisionedResources,
  provisionResources,
  type ResourceNames,
} from './provision.js';
export { S3BlobStore } from './s3-blobs.js';
