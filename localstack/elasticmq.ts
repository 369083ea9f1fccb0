/**
 * ElasticMQ, a single-service SQS emulator (Scala, on the JVM), for the tests that need what
 * ministack does not reproduce: a long poll that goes on at the server after its client went away.
 * Real SQS keeps a `ReceiveMessage` open for its whole `WaitTimeSeconds` when the client aborts
 * (aws-sdk-js#2350), and takes messages that then stay hidden for their visibility timeout;
 * ministack ends the poll when the connection closes, ElasticMQ does not.
 *
 * - **install**: `org.elasticmq:elasticmq-server_2.13` and its dependencies from Maven Central, by
 *   a small pom and `mvn dependency:copy-dependencies`, into `.elasticmq/lib` (git-ignored). Needs
 *   Java 11+ and Maven 3 on the PATH. About 40 jars, 37 MB; ~20 s on a fresh machine (Maven's own
 *   plugins included), nothing once installed.
 * - **start**: `java -cp '.elasticmq/lib/*' org.elasticmq.server.Main` with a config file that binds
 *   127.0.0.1:`port` only (queue URLs name that address) and nothing else; resolves once it answers.
 *   Its own process group, stopped by its pid.
 *
 * As a command:
 *   npx tsx localstack/elasticmq.ts install
 *   npx tsx localstack/elasticmq.ts start     # on 127.0.0.1:9324 (ELASTICMQ_PORT to change); pid in .elasticmq/elasticmq.pid
 *   npx tsx localstack/elasticmq.ts stop
 * From code: `startElasticMq({ port })` resolves `{ endpoint, pid, stop }`.
 *
 * @module
 */

import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { tail } from '../lib/local/ministack.js';
import { commandLineMentions, LOOPBACK, portTaken, sleep, stopPid } from '../lib/local/process.js';
import { ConfigurationError, SpoolError } from '../lib/task/errors.js';
import { runAsScript, stopByPidFile } from './script.js';

/** The ElasticMQ release the tests run. */
export const ELASTICMQ_VERSION = '1.7.1';
/** Its Maven coordinates (Scala 2.13 build). */
const ARTIFACT = { groupId: 'org.elasticmq', artifactId: 'elasticmq-server_2.13' } as const;
/** How long {@link startElasticMq} waits for the server to answer. */
export const ELASTICMQ_START_TIMEOUT_MS = 60_000;

const ROOT = resolve(import.meta.dirname, '..');
/** Where ElasticMQ is installed and run from (git-ignored). */
export const ELASTICMQ_DIR = join(ROOT, '.elasticmq');
const LIB_DIR = join(ELASTICMQ_DIR, 'lib');
/** Written once the jars of {@link ELASTICMQ_VERSION} are all there. */
const INSTALLED_MARKER = join(ELASTICMQ_DIR, `installed-${ELASTICMQ_VERSION}`);
const PID_FILE = join(ELASTICMQ_DIR, 'elasticmq.pid');

/** A started ElasticMQ. */
export interface RunningElasticMq {
  /** `http://127.0.0.1:<port>`: the SQS endpoint. */
  readonly endpoint: string;
  readonly port: number;
  readonly pid: number;
  readonly logFile: string;
  /** Stop it by its pid (SIGTERM, then SIGKILL after 5 s). */
  stop(): Promise<void>;
}

/** Why ElasticMQ cannot run here (no Java on the PATH), or `undefined` when it can. */
export function javaMissing(): string | undefined {
  try {
    execFileSync('java', ['-version'], { stdio: ['ignore', 'ignore', 'pipe'] });
    return undefined;
  } catch (error) {
    return `java -version failed (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}): ElasticMQ needs Java 11 or newer (Debian: apt-get install openjdk-17-jre-headless)`;
  }
}

/** Whether {@link ELASTICMQ_VERSION} is installed in `.elasticmq/lib`. */
export function elasticMqInstalled(): boolean {
  return existsSync(INSTALLED_MARKER);
}

/**
 * Put ElasticMQ {@link ELASTICMQ_VERSION} and its dependencies into `.elasticmq/lib` from Maven
 * Central, unless they are there. Throws a {@link ConfigurationError} saying what is missing.
 */
export function installElasticMq(log: (line: string) => void = () => {}): void {
  if (elasticMqInstalled()) return;
  const missing = javaMissing();
  if (missing !== undefined) throw new ConfigurationError(`cannot install ElasticMQ: ${missing}.`);
  log(`installing ElasticMQ ${ELASTICMQ_VERSION} into ${LIB_DIR} (Maven Central; first use only)`);
  const started = Date.now();
  rmSync(LIB_DIR, { recursive: true, force: true });
  for (const entry of existsSync(ELASTICMQ_DIR) ? readdirSync(ELASTICMQ_DIR) : []) {
    if (entry.startsWith('installed-')) rmSync(join(ELASTICMQ_DIR, entry), { force: true });
  }
  mkdirSync(LIB_DIR, { recursive: true });
  const pom = join(ELASTICMQ_DIR, 'pom.xml');
  writeFileSync(
    pom,
    `<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>spool.local</groupId>
  <artifactId>elasticmq-runtime</artifactId>
  <version>0</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>${ARTIFACT.groupId}</groupId>
      <artifactId>${ARTIFACT.artifactId}</artifactId>
      <version>${ELASTICMQ_VERSION}</version>
    </dependency>
  </dependencies>
</project>
`,
  );
  try {
    execFileSync(
      'mvn',
      ['-B', '-q', '-f', pom, 'dependency:copy-dependencies', `-DoutputDirectory=${LIB_DIR}`, '-DincludeScope=runtime'],
      { stdio: ['ignore', 'pipe', 'pipe'], cwd: ELASTICMQ_DIR },
    );
  } catch (error) {
    const output = `${(error as { stdout?: Buffer }).stdout ?? ''}${(error as { stderr?: Buffer }).stderr ?? ''}`;
    throw new ConfigurationError(
      `could not install ElasticMQ ${ELASTICMQ_VERSION} with Maven (${(error as NodeJS.ErrnoException).code ?? 'mvn failed'}): ` +
        `${output.trim().split('\n').slice(-5).join(' ')}. It needs Maven 3 on the PATH (Debian: apt-get install maven) and Maven Central reachable.`,
      { cause: error },
    );
  }
  if (!existsSync(join(LIB_DIR, `${ARTIFACT.artifactId}-${ELASTICMQ_VERSION}.jar`))) {
    throw new SpoolError(`Maven finished, but ${LIB_DIR} has no ${ARTIFACT.artifactId}-${ELASTICMQ_VERSION}.jar`);
  }
  writeFileSync(INSTALLED_MARKER, `${new Date().toISOString()}\n`);
  log(`ElasticMQ ${ELASTICMQ_VERSION} installed in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

/** The server's configuration: SQS's REST API on 127.0.0.1:`port` only, queue URLs on that address. */
function configText(port: number, region: string): string {
  return `include classpath("application.conf")
node-address { protocol = "http", host = "${LOOPBACK}", port = ${port}, context-path = "" }
rest-sqs { enabled = true, bind-port = ${port}, bind-hostname = "${LOOPBACK}", sqs-limits = strict }
rest-stats { enabled = false }
generate-node-address = false
aws { region = "${region}", accountId = "000000000000" }
`;
}

/** Whether ElasticMQ answers an SQS call at `endpoint`. */
async function answers(endpoint: string): Promise<boolean> {
  try {
    const res = await fetch(`${endpoint}/?Action=ListQueues`, { signal: AbortSignal.timeout(1000) });
    await res.body?.cancel();
    return res.ok;
  } catch {
    return false;
  }
}

/**
 * Start ElasticMQ on 127.0.0.1:`port` (installing it first) and resolve once it answers. Throws
 * when Java is missing, the port is taken, or it exits or does not answer within 60 s (with its
 * log's tail).
 */
export async function startElasticMq(
  options: { readonly port?: number; readonly region?: string } = {},
): Promise<RunningElasticMq> {
  installElasticMq((line) => process.stderr.write(`${line}\n`));
  const port = options.port ?? 9324;
  const endpoint = `http://${LOOPBACK}:${port}`;
  if (await portTaken(port)) {
    throw new ConfigurationError(`port ${port} on ${LOOPBACK} is already in use: pass another port (ELASTICMQ_PORT).`);
  }
  const configFile = join(ELASTICMQ_DIR, `elasticmq-${port}.conf`);
  writeFileSync(configFile, configText(port, options.region ?? 'us-east-1'));
  const logFile = join(ELASTICMQ_DIR, `elasticmq-${port}.log`);
  const out = openSync(logFile, 'w');
  let child: ChildProcess;
  try {
    child = spawn(
      'java',
      [
        '-Xms64m',
        '-Xmx512m',
        '-XX:+UseSerialGC',
        `-Dconfig.file=${configFile}`,
        '-cp',
        join(LIB_DIR, '*'),
        'org.elasticmq.server.Main',
      ],
      { stdio: ['ignore', out, out], detached: true, cwd: ELASTICMQ_DIR },
    );
  } finally {
    closeSync(out); // the child has its own copy
  }
  const pid = child.pid;
  if (pid === undefined) {
    const failed = await new Promise<Error | undefined>((r) => child.once('error', r));
    throw new SpoolError(`could not start ElasticMQ (java): ${failed?.message ?? 'no pid'}; see ${logFile}`);
  }
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const deadline = Date.now() + ELASTICMQ_START_TIMEOUT_MS;
  for (;;) {
    const early = await Promise.race([exited, sleep(200).then(() => 'waiting' as const)]);
    if (early !== 'waiting') {
      throw new SpoolError(
        `ElasticMQ exited (code ${early}) before it was ready; its log, ${logFile}:\n${tail(logFile)}`,
      );
    }
    if (await answers(endpoint)) break;
    if (Date.now() > deadline) {
      await stopPid(pid);
      throw new SpoolError(
        `ElasticMQ did not answer on ${endpoint} within ${ELASTICMQ_START_TIMEOUT_MS / 1000} s; its log, ${logFile}:\n${tail(logFile)}`,
      );
    }
  }
  child.unref();
  const stop = async () => {
    await stopPid(pid);
    rmSync(configFile, { force: true });
  };
  return { endpoint, port, pid, logFile, stop };
}

async function cli(command: string | undefined): Promise<number> {
  if (command === 'install') {
    installElasticMq((line) => process.stdout.write(`${line}\n`));
    process.stdout.write(`ElasticMQ ${ELASTICMQ_VERSION} installed in ${LIB_DIR}\n`);
    return 0;
  }
  if (command === 'start') {
    if (existsSync(PID_FILE)) {
      process.stderr.write(`ElasticMQ already started (pid file ${PID_FILE}); run 'stop' first\n`);
      return 1;
    }
    const running = await startElasticMq({ port: Number(process.env.ELASTICMQ_PORT ?? 9324) });
    writeFileSync(PID_FILE, String(running.pid));
    process.stdout.write(`ElasticMQ ${ELASTICMQ_VERSION} on ${running.endpoint} (pid ${running.pid})\n`);
    process.stdout.write(`export AWS_ENDPOINT_URL_SQS=${running.endpoint}\n`);
    return 0;
  }
  if (command === 'stop')
    return stopByPidFile(
      'ElasticMQ',
      PID_FILE,
      (pid) => commandLineMentions(pid, 'org.elasticmq.server.Main') !== false,
    );
  process.stderr.write('usage: tsx localstack/elasticmq.ts install|start|stop\n');
  return 2;
}

runAsScript(import.meta.filename, 'elasticmq', cli);
