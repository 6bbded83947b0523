/**
 * The dashboard in a real browser: Debian's chromium, headless, driven by playwright-core, against real API and
 * worker processes (tiny generated model, unique prefix). One API runs the board read-write, a second one on the
 * same queue read-only (DASHBOARD_READ_ONLY=true). The jobs the board shows (a completed /rerank job, a failed one,
 * a completed bulk job) are made once before the tests, so each test stands alone. Screenshots go to a temporary
 * directory named in the test log.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Queue } from 'bullmq';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { jobDisplayName } from '../../shared/job-name.ts';
import { BULK_QUEUE_NAME, QUEUE_NAME } from '../../shared/queue.ts';
import { WEBHOOK_QUEUE_NAME } from '../../shared/webhook-queue.ts';
import { ensureTestModel } from '../support/models.ts';
import { pollUntil } from '../support/poll.ts';
import { deleteKeysWithPrefix } from '../support/private-redis.ts';
import { REPO_ROOT, spawnService, type ServiceProcess } from '../support/processes.ts';

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--no-first-run',
];
const PREFIX = `test-dashboard-${randomUUID().slice(0, 8)}`;
const REDIS_URL = 'redis://127.0.0.1:6379';
const CREDENTIALS = { username: 'ops', password: `pw-${randomUUID()}` };
const QUERY = 'neural passage retrieval with cross encoders for open domain QA';
const DOCUMENTS = ['Cross-encoders score a query and a passage together.', 'Bananas are yellow.', 'BM25 is lexical.'];
const JOB_NAME = jobDisplayName(QUERY, DOCUMENTS.length);
const BAD_JOB_NAME = jobDisplayName('poisoned job', 1);
const BULK_QUERY = 'bulk rerank of the nightly crawl for the help center';
const BULK_DOCUMENTS = Array.from({ length: 12 }, (_, i) => `help center article number ${i}`);
const BULK_JOB_NAME = jobDisplayName(BULK_QUERY, BULK_DOCUMENTS.length);
/** Buttons that change jobs: what read-only mode must hide. */
const ACTIONS = /retry|clean|delete|remove|promote|empty|obliterate/i;

const processes: ServiceProcess[] = [];
const profileDir = mkdtempSync(join(tmpdir(), 'rq-dashboard-profile-'));
const screenshotDir = mkdtempSync(join(tmpdir(), 'rq-dashboard-shots-'));
let writable: string;
let readOnly: string;
let context: BrowserContext;
let page: Page;
/** The poisoned job as the worker left it: its failure reason and stack trace. */
let poisoned: { failedReason: string; stacktrace: string[] | null };

async function startApi(readOnlyMode: boolean, env: Record<string, string>): Promise<string> {
  const api = spawnService({
    entry: 'api/main.ts',
    env: {
      ...env,
      PORT: '0',
      DASHBOARD_USER: CREDENTIALS.username,
      DASHBOARD_PASSWORD: CREDENTIALS.password,
      DASHBOARD_READ_ONLY: String(readOnlyMode),
    },
  });
  processes.push(api);
  const listening = await api.waitForLine((line) => line.msg === 'api listening');
  return `http://127.0.0.1:${String(listening.port)}`;
}

async function completeRerankJob(): Promise<void> {
  const reply = await fetch(`${writable}/rerank`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query: QUERY, documents: DOCUMENTS }),
  });
  assert.equal(reply.status, 200, await reply.clone().text());
}

async function failPoisonedJob(): Promise<void> {
  const queue = new Queue(QUEUE_NAME, { connection: { url: REDIS_URL }, prefix: `{${PREFIX}}` });
  try {
    // A producer that keeps stack traces (no stackTraceLimit): the worker itself must leave none behind.
    const job = await queue.add(BAD_JOB_NAME, { query: 'poisoned job', documents: [5], raw: false });
    poisoned = await pollUntil('the poisoned job to fail', async () => {
      const current = await queue.getJob(String(job.id));
      return current?.failedReason ? { failedReason: current.failedReason, stacktrace: current.stacktrace } : undefined;
    }, 20_000);
  } finally {
    await queue.close();
  }
}

async function completeBulkJob(): Promise<void> {
  const accepted = await fetch(`${writable}/jobs`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query: BULK_QUERY, documents: BULK_DOCUMENTS }),
  });
  assert.equal(accepted.status, 202, await accepted.clone().text());
  const { status_url: statusUrl } = (await accepted.json()) as { status_url: string };
  await pollUntil('the bulk job to complete', async () => {
    const status = (await (await fetch(`${writable}${statusUrl}`)).json()) as { status: string };
    return status.status === 'completed' ? true : undefined;
  }, 30_000);
}

before(async () => {
  const env = { REDIS_URL, QUEUE_PREFIX: PREFIX, MODEL_DIR: await ensureTestModel('tiny'), LOG_LEVEL: 'info' };
  const worker = spawnService({ entry: 'worker/main.ts', env });
  processes.push(worker);
  [writable, readOnly] = await Promise.all([
    startApi(false, env),
    startApi(true, env),
    worker.waitForLine((line) => line.msg === 'worker ready', 60_000),
  ]);
  await Promise.all([completeRerankJob(), failPoisonedJob(), completeBulkJob()]);
  context = await chromium.launchPersistentContext(profileDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    httpCredentials: CREDENTIALS,
    viewport: { width: 1280, height: 900 },
  });
  page = context.pages()[0] ?? (await context.newPage());
});

after(async () => {
  await context?.close();
  await Promise.all(processes.map((process) => process.stop()));
  await deleteKeysWithPrefix(REDIS_URL, PREFIX);
  rmSync(profileDir, { recursive: true, force: true });
});

async function screenshot(name: string, log: (message: string) => void): Promise<void> {
  const path = join(screenshotDir, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  log(`screenshot: ${path}`);
}

test('the dashboard answers 401 without credentials or with a wrong password', async () => {
  for (const base of [writable, readOnly]) {
    const anonymous = await fetch(`${base}/admin/queues`);
    assert.equal(anonymous.status, 401);
    assert.match(anonymous.headers.get('www-authenticate') ?? '', /^Basic /);
    assert.equal(((await anonymous.json()) as { error: { code: string } }).error.code, 'UNAUTHORIZED');
    const wrong = `Basic ${Buffer.from(`${CREDENTIALS.username}:nope`).toString('base64')}`;
    assert.equal((await fetch(`${base}/admin/queues`, { headers: { authorization: wrong } })).status, 401);
  }
});

test('a completed /rerank job is listed under its readable name; the writable board offers clean and retry', async (t) => {
  await page.goto(`${writable}/admin/queues`);
  // Every queue the service uses is listed.
  for (const name of [QUEUE_NAME, BULK_QUEUE_NAME, WEBHOOK_QUEUE_NAME]) {
    await page.getByText(name, { exact: true }).first().waitFor({ timeout: 30_000 });
  }
  await page.goto(`${writable}/admin/queues/queue/${QUEUE_NAME}?status=completed`);
  await page.getByText(JOB_NAME).first().waitFor({ timeout: 30_000 });
  await page.getByRole('button', { name: 'Clean all' }).waitFor({ timeout: 10_000 });
  assert.ok((await page.getByRole('button', { name: ACTIONS }).count()) >= 2, 'retry and clean on the writable board');
  await screenshot('completed-writable', (message) => t.diagnostic(message));
});

test('a completed bulk job is listed under its readable name in the bulk queue', async (t) => {
  await page.goto(`${writable}/admin/queues/queue/${BULK_QUEUE_NAME}?status=completed`);
  await page.getByText(BULK_JOB_NAME).first().waitFor({ timeout: 30_000 });
  await screenshot('bulk-completed', (message) => t.diagnostic(message));
});

test('a failed job shows its code and message, with no stack trace or server path', async (t) => {
  assert.equal(poisoned.failedReason, 'INVALID_JOB_DATA: documents[0] must be a string');
  assert.deepEqual(poisoned.stacktrace, []);
  await page.goto(`${writable}/admin/queues/queue/${QUEUE_NAME}?status=failed`);
  await page.getByText(BAD_JOB_NAME).first().waitFor({ timeout: 30_000 });
  await page.getByText('INVALID_JOB_DATA: documents[0] must be a string').first().waitFor({ timeout: 10_000 });
  const text = await page.locator('body').innerText();
  assert.ok(!text.includes(REPO_ROOT), 'no server path on the page');
  assert.doesNotMatch(text, /\bat .*\.(ts|js):\d+/, 'no stack frame on the page');
  await screenshot('failed-writable', (message) => t.diagnostic(message));
});

test('DASHBOARD_READ_ONLY: the same jobs, without clean or retry, and the board refuses them', async (t) => {
  await page.goto(`${readOnly}/admin/queues/queue/${QUEUE_NAME}?status=completed`);
  await page.getByText(JOB_NAME).first().waitFor({ timeout: 30_000 });
  assert.equal(await page.getByRole('button', { name: ACTIONS }).count(), 0);
  await page.goto(`${readOnly}/admin/queues/queue/${QUEUE_NAME}?status=failed`);
  await page.getByText(BAD_JOB_NAME).first().waitFor({ timeout: 30_000 });
  assert.equal(await page.getByRole('button', { name: ACTIONS }).count(), 0);
  await screenshot('failed-read-only', (message) => t.diagnostic(message));

  const authorization = `Basic ${Buffer.from(`${CREDENTIALS.username}:${CREDENTIALS.password}`).toString('base64')}`;
  const clean = await fetch(`${readOnly}/admin/queues/api/queues/${QUEUE_NAME}/clean/completed`, {
    method: 'PUT',
    headers: { authorization },
  });
  assert.equal(clean.status, 405);
  const queue = new Queue(QUEUE_NAME, { connection: { url: REDIS_URL }, prefix: `{${PREFIX}}` });
  try {
    assert.equal((await queue.getJobCounts('completed')).completed, 1, 'nothing was cleaned');
  } finally {
    await queue.close();
  }
});
