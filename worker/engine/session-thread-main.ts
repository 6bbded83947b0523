/** The inference thread's body (session-thread.ts): load the session, then answer each batch with its logits. */
import { parentPort, workerData } from 'node:worker_threads';
import type { PaddedBatch } from './batcher.ts';
import type { ThreadMessage } from './session-thread.ts';
import { OnnxSession, type SessionOptions } from './session.ts';

const port = parentPort!;
const send = (message: ThreadMessage, transfer: ArrayBuffer[] = []) => port.postMessage(message, transfer);
const reason = (error: unknown) => (error instanceof Error ? error.message : String(error));

try {
  const session = await OnnxSession.create(workerData as SessionOptions);
  port.on('message', ({ id, batch }: { id: number; batch: PaddedBatch }) => {
    session.run(batch).then(
      // The logits' buffer moves to the main thread instead of being copied.
      (logits) => send({ kind: 'logits', id, logits }, [logits.buffer as ArrayBuffer]),
      (error: unknown) => send({ kind: 'run-failed', id, message: reason(error) }),
    );
  });
  send({ kind: 'loaded', inputNames: session.inputNames });
} catch (error) {
  send({ kind: 'load-failed', message: reason(error) });
}
