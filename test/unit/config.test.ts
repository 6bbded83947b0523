import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ConfigError, describeSettings, loadConfig, readEnv } from '../../shared/config.ts';

test('defaults match the seed service: port 8000, 64 tokens', () => {
  const config = loadConfig({});
  assert.equal(config.PORT, 8000);
  assert.equal(config.MAX_SEQ_LENGTH, 64);
  assert.equal(config.MODEL_NAME, 'ms-marco-TinyBERT-L-2-v2');
  assert.equal(config.REDIS_URL, undefined);
  assert.ok(Object.isFrozen(config));
});

test('numbers are converted from strings and empty values mean default', () => {
  const config = loadConfig({ PORT: '9001', SYNC_TIMEOUT_MS: '250', MAX_DOCUMENTS: '' });
  assert.equal(config.PORT, 9001);
  assert.equal(config.SYNC_TIMEOUT_MS, 250);
  assert.equal(config.MAX_DOCUMENTS, 10_000);
});

test('a bad value names the variable, the value and what is expected', () => {
  assert.throws(
    () => loadConfig({ PORT: 'eighty', LOG_LEVEL: 'loud', REDIS_URL: 'localhost:6379' }),
    (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.match(error.message, /PORT="eighty": Expected integer/);
      assert.match(error.message, /LOG_LEVEL="loud": expected one of fatal, error/);
      assert.match(error.message, /REDIS_URL="localhost:6379"/);
      return true;
    },
  );
});

test('range limits are enforced', () => {
  assert.throws(() => loadConfig({ MAX_SEQ_LENGTH: '4' }), /MAX_SEQ_LENGTH="4"/);
  assert.throws(() => loadConfig({ PORT: '70000' }), /PORT="70000"/);
  assert.throws(() => loadConfig({ SYNC_TIMEOUT_MS: '5000', MAX_SYNC_WAIT_MS: '1000' }), /MAX_SYNC_WAIT_MS/);
});

test('the dashboard credentials come as a pair: one without the other names both', () => {
  for (const env of [{ DASHBOARD_USER: 'admin' }, { DASHBOARD_PASSWORD: 's3cret' }]) {
    assert.throws(
      () => loadConfig(env),
      (error: unknown) => error instanceof ConfigError && /DASHBOARD_USER/.test(error.message) && /DASHBOARD_PASSWORD/.test(error.message),
    );
  }
  assert.equal(loadConfig({ DASHBOARD_USER: 'admin', DASHBOARD_PASSWORD: 's3cret' }).DASHBOARD_USER, 'admin');
  assert.equal(loadConfig({}).DASHBOARD_USER, undefined);
});

test('.env fills in what the environment does not set', () => {
  const file = join(mkdtempSync(join(tmpdir(), 'rq-env-')), '.env');
  writeFileSync(file, '# comment\nPORT=8100\nLOG_LEVEL=debug\n');
  const env = readEnv({ LOG_LEVEL: 'warn' }, file);
  const config = loadConfig(env);
  assert.equal(config.PORT, 8100);
  assert.equal(config.LOG_LEVEL, 'warn');
});

test('every setting documents itself', () => {
  for (const setting of describeSettings()) {
    assert.ok(setting.description.length > 10, `${setting.name} has no description`);
  }
});

test('webhooks: an allow list needs a secret; attempts and timeouts have defaults', () => {
  assert.throws(() => loadConfig({ WEBHOOK_ALLOWED_HOSTS: 'hooks.example.com' }), /WEBHOOK_SECRET must be set/);
  assert.throws(() => loadConfig({ WEBHOOK_ALLOWED_HOSTS: 'a,,b', WEBHOOK_SECRET: 'x'.repeat(16) }), /WEBHOOK_ALLOWED_HOSTS=/);
  const config = loadConfig({ WEBHOOK_ALLOWED_HOSTS: 'hooks.example.com', WEBHOOK_SECRET: 'x'.repeat(16) });
  assert.equal(config.WEBHOOK_ATTEMPTS, 5);
  assert.equal(config.WEBHOOK_TIMEOUT_MS, 5_000);
  assert.equal(loadConfig({ DASHBOARD_READ_ONLY: 'true' }).DASHBOARD_READ_ONLY, true);
  assert.equal(loadConfig({}).DASHBOARD_READ_ONLY, false);
});
