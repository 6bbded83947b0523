/**
 * Several models behind one API: which models a deployment serves, which one is the default, and the queue each
 * one's jobs go to. The API and the workers both derive these from the same settings (SERVED_MODELS), so a job
 * added for a model lands in the queue its workers consume.
 */
import type { Config } from './config.ts';
import { QUEUE_NAME } from './queue.ts';

type ModelSettings = Pick<Config, 'SERVED_MODELS' | 'MODEL_NAME'>;

/** SERVED_MODELS in order, or MODEL_NAME alone; the first is the default. */
export function servedModelNames(config: ModelSettings): string[] {
  return config.SERVED_MODELS?.split(',') ?? [config.MODEL_NAME];
}

export function defaultModelOf(config: ModelSettings): string {
  return servedModelNames(config)[0] ?? config.MODEL_NAME;
}

/**
 * The default model keeps the queue name "rerank", so a single-model deployment is unchanged; every other model
 * gets "rerank@<model>" ('@' can be no model name's character, so it never meets "rerank-bulk"; BullMQ refuses ':').
 */
export function rerankQueueName(config: ModelSettings, model: string): string {
  return model === defaultModelOf(config) ? QUEUE_NAME : `${QUEUE_NAME}@${model}`;
}

/** MODEL_ALIASES as alias -> served model. */
export function modelAliases(config: Pick<Config, 'MODEL_ALIASES'>): Map<string, string> {
  const pairs = config.MODEL_ALIASES?.split(',') ?? [];
  return new Map(pairs.map((pair) => [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1)]));
}
