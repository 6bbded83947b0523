/**
 * A throw-away Redis Cluster for tests: N masters (no replicas, no persistence) on free ports, their node files in
 * a temporary directory, the slots assigned by `redis-cli --cluster create`; killed and removed by stop().
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { freePort } from '../../scripts/lib/free-port.ts';
import { pollUntil } from './poll.ts';

const run = promisify(execFile);

/** The cluster bus listens on port + 10000, so that one must be free too. */
async function clusterPort(taken: Set<number>): Promise<number> {
  for (;;) {
    const port = await freePort();
    if (port + 10_000 > 65_535 || taken.has(port) || taken.has(port + 10_000)) continue;
    if (await isFree(port + 10_000)) return port;
  }
}

async function isFree(port: number): Promise<boolean> {
  const server = createServer();
  server.listen(port, '127.0.0.1');
  try {
    await Promise.race([once(server, 'listening'), once(server, 'error').then(([error]) => Promise.reject(error))]);
    server.close();
    await once(server, 'close');
    return true;
  } catch {
    return false;
  }
}

async function answers(port: number): Promise<boolean> {
  const client = new Redis({ port, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  client.on('error', () => undefined); // refused while the server starts: connect() rejects, which we handle
  try {
    await client.connect();
    return (await client.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    client.disconnect();
  }
}

function startServer(dir: string, port: number): ChildProcess {
  const args = [
    '--port', String(port), '--bind', '127.0.0.1', '--cluster-enabled', 'yes',
    '--cluster-config-file', join(dir, `nodes-${port}.conf`), '--dir', dir,
    '--save', '', '--appendonly', 'no',
  ];
  return spawn('redis-server', args, { stdio: 'ignore' });
}

export class RedisCluster {
  private constructor(
    readonly ports: number[],
    private readonly dir: string,
    private readonly servers: ChildProcess[],
  ) {}

  /** host:port,host:port,... as REDIS_CLUSTER_NODES takes it. */
  get nodes(): string {
    return this.ports.map((port) => `127.0.0.1:${port}`).join(',');
  }

  static async start(masters = 3): Promise<RedisCluster> {
    const dir = await mkdtemp(join(tmpdir(), 'redis-cluster-'));
    const taken = new Set<number>();
    const ports: number[] = [];
    for (let index = 0; index < masters; index++) {
      const port = await clusterPort(taken);
      taken.add(port).add(port + 10_000);
      ports.push(port);
    }
    const servers = ports.map((port) => startServer(dir, port));
    const cluster = new RedisCluster(ports, dir, servers);
    try {
      for (const port of ports) await pollUntil(`redis-server on ${port}`, async () => ((await answers(port)) ? true : undefined), 10_000);
      const addresses = ports.map((port) => `127.0.0.1:${port}`);
      await run('redis-cli', ['--cluster', 'create', ...addresses, '--cluster-replicas', '0', '--cluster-yes'], { timeout: 30_000 });
      for (const port of ports) {
        await pollUntil(`cluster_state:ok on ${port}`, async () => ((await cluster.info(port)).includes('cluster_state:ok') ? true : undefined), 20_000);
      }
      return cluster;
    } catch (error) {
      await cluster.stop();
      throw error;
    }
  }

  /** CLUSTER INFO of one node. */
  async info(port: number): Promise<string> {
    const client = new Redis({ port, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    client.on('error', () => undefined);
    try {
      await client.connect();
      return String(await client.call('CLUSTER', 'INFO'));
    } catch {
      return '';
    } finally {
      client.disconnect();
    }
  }

  /** Kills one master (SIGKILL, as a crash: no persistence, so its data is gone). */
  async killNode(port: number): Promise<void> {
    const server = this.servers[this.ports.indexOf(port)]!;
    if (server.exitCode !== null || server.signalCode !== null) return;
    const exited = once(server, 'exit');
    server.kill('SIGKILL');
    await exited;
  }

  /** Starts killed masters again from their node files; resolves once the cluster is whole again. */
  async restartNodes(...ports: number[]): Promise<void> {
    for (const port of ports) this.servers[this.ports.indexOf(port)] = startServer(this.dir, port);
    for (const node of this.ports) {
      await pollUntil(`cluster_state:ok on ${node}`, async () => ((await this.info(node)).includes('cluster_state:ok') ? true : undefined), 30_000);
    }
  }

  async stop(): Promise<void> {
    await Promise.all(
      this.servers.map(async (server) => {
        if (server.exitCode !== null || server.signalCode !== null) return;
        const exited = once(server, 'exit');
        server.kill('SIGKILL');
        await exited;
      }),
    );
    await rm(this.dir, { recursive: true, force: true });
  }
}
