/** Several models behind one API, without processes: names, queues, aliases, the 400, and the max-length lookup. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ServedModels } from '../../api/services/served-models.ts';
import type { RerankQueue } from '../../api/plugins/queue.ts';
import { ConfigError, loadConfig } from '../../shared/config.ts';
import type { ServiceError } from '../../shared/errors.ts';
import { defaultModelOf, rerankQueueName, servedModelNames } from '../../shared/served-models.ts';
import type { WorkerReport } from '../../shared/worker-registry.ts';

const config = loadConfig({ SERVED_MODELS: 'alpha,beta', MODEL_ALIASES: 'rerank-v3.5=beta', MAX_SEQ_LENGTH: '64' });
const queues = new Map([
  ['alpha', { name: 'rerank' } as RerankQueue],
  ['beta', { name: 'rerank@beta' } as RerankQueue],
]);
const report = (model: string, maxLength: number, state: WorkerReport['state'] = 'ready') =>
  ({ model, max_length: maxLength, state }) as WorkerReport;

test('served names in order, the first the default with the queue "rerank"; unset: MODEL_NAME alone', () => {
  assert.deepEqual(servedModelNames(config), ['alpha', 'beta']);
  assert.equal(defaultModelOf(config), 'alpha');
  assert.equal(rerankQueueName(config, 'alpha'), 'rerank');
  assert.equal(rerankQueueName(config, 'beta'), 'rerank@beta');
  const single = loadConfig({ MODEL_DIR: 'models/solo' });
  assert.deepEqual(servedModelNames(single), ['solo']);
  assert.equal(rerankQueueName(single, 'solo'), 'rerank');
});

test('config refuses model names a queue cannot carry, and aliases of models not served', () => {
  assert.throws(() => loadConfig({ SERVED_MODELS: 'a:b' }), ConfigError);
  assert.throws(() => loadConfig({ SERVED_MODELS: 'a,,b' }), ConfigError);
  assert.throws(() => loadConfig({ SERVED_MODELS: 'alpha', MODEL_ALIASES: 'x=beta' }), /MODEL_ALIASES maps to beta/);
});

test('a request model: absent or null is the default, names, aliases and hub ids resolve, others are a 400', () => {
  const models = new ServedModels({ config, queues, workerReports: async () => [] });
  assert.equal(models.resolve(undefined), 'alpha');
  assert.equal(models.resolve(null), 'alpha');
  assert.equal(models.resolve('beta'), 'beta');
  assert.equal(models.resolve('rerank-v3.5'), 'beta');
  assert.equal(models.resolve('cross-encoder/beta'), 'beta');
  assert.throws(() => models.resolve('gamma'), (error: ServiceError) => {
    assert.equal(error.code, 'UNKNOWN_MODEL');
    assert.deepEqual(error.details, { served: ['alpha', 'beta'] });
    return true;
  });
});

test("the max length is the model's workers' (a ready one first), config's without a report, read once per interval", async () => {
  let reads = 0;
  const models = new ServedModels({
    config,
    queues,
    workerReports: async () => {
      reads += 1;
      return [report('beta', 48, 'loading'), report('beta', 32), report('other', 8)];
    },
  });
  const beta = await models.target('beta');
  assert.equal(beta.maxLength, 32);
  assert.equal(beta.queue.name, 'rerank@beta');
  assert.equal((await models.target(undefined)).maxLength, 64);
  assert.equal(reads, 1);
});

test('a failed read of the reports falls back to config and is not kept', async () => {
  let reads = 0;
  const models = new ServedModels({
    config,
    queues,
    workerReports: async () => {
      reads += 1;
      if (reads === 1) throw new Error('redis down');
      return [report('beta', 16)];
    },
  });
  assert.equal((await models.target('beta')).maxLength, 64);
  assert.equal((await models.target('beta')).maxLength, 16);
});
