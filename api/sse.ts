import type { Request, Response } from 'express';

/**
 * Server-Sent Events: sends `progress` events with the job view every interval while it runs,
 * then one `end` event with the final state, then closes.
 */
export async function streamJob(
  req: Request,
  res: Response,
  view: () => Promise<{ status: string }>,
  isFinished: (status: string) => boolean,
  intervalMs = 1000,
) {
  const first = await view(); // throws (404) before any header is written
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
  let closed = false;
  req.on('close', () => (closed = true));
  let current = first;
  for (;;) {
    const done = isFinished(current.status);
    res.write(`event: ${done ? 'end' : 'progress'}\ndata: ${JSON.stringify(current)}\n\n`);
    if (done || closed) break;
    await new Promise((r) => setTimeout(r, intervalMs));
    if (closed) break;
    current = await view();
  }
  res.end();
}
