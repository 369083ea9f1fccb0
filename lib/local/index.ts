/**
 * The local AWS endpoint that ships with spool: ministack (PyPI, no Docker) in a project-local
 * virtualenv on 127.0.0.1, or an endpoint the user runs. `spool local start|stop|status` and
 * `spool-tasks/testing/local-aws` are built on it.
 *
 * @module
 */

export {
  checkEndpoint,
  DEFAULT_LOCAL_PORT,
  findProjectRoot,
  type LocalEndpointState,
  type LocalEndpointStatus,
  type LocalPaths,
  localEndpointStatus,
  localPaths,
  readState,
  type StartedLocalEndpoint,
  type StartLocalOptions,
  startLocalEndpoint,
  stopLocalEndpoint,
} from './endpoint.js';
export {
  dotenv,
  isLocalEndpoint,
  LOCAL_CREDENTIALS,
  LOCAL_REGION,
  localAwsEnvironment,
  shellExports,
  shellQuote,
  writeEnvFile,
} from './env.js';
export {
  type InstallOptions,
  installedMinistackVersion,
  installMinistack,
  MINISTACK_SERVICES,
  MINISTACK_START_TIMEOUT_MS,
  MINISTACK_VERSION,
  type RunningEndpoint,
  type StartOptions,
  startMinistack,
  tail,
  type VenvLayout,
  venvLayout,
} from './ministack.js';
export { endpointAnswers, freePort, isAlive, LOOPBACK, portTaken, stopPid } from './process.js';
