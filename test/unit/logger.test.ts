import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pino } from 'pino';
import { lifecycleLogger } from '../../shared/logger.ts';

function capture(level: string) {
  const lines: { level: number; msg: string }[] = [];
  const logger = pino({ level }, { write: (text: string) => void lines.push(JSON.parse(text)) });
  return { logger, lines };
}

test('lifecycle lines are info lines shown at every level but silent; other info lines keep the level', () => {
  for (const level of ['trace', 'debug', 'info', 'warn', 'error', 'fatal']) {
    const { logger, lines } = capture(level);
    lifecycleLogger(logger).info('api listening');
    logger.info('redis connected');
    const expected = ['trace', 'debug', 'info'].includes(level) ? ['api listening', 'redis connected'] : ['api listening'];
    assert.deepEqual(lines.map((line) => line.msg), expected, level);
    assert.equal(lines[0]?.level, 30, 'still an info line');
  }
  const { logger, lines } = capture('silent');
  lifecycleLogger(logger).info('api listening');
  assert.deepEqual(lines, []);
});
