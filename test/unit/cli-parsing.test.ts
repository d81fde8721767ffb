import { expect } from 'chai';
import { parseSse } from '../../cli/sse';

async function* chunks(...parts: string[]) {
  for (const p of parts) yield new TextEncoder().encode(p);
}

async function events(...parts: string[]) {
  const out = [];
  for await (const e of parseSse(chunks(...parts))) out.push(e);
  return out;
}

describe('CLI event stream parser', () => {
  it('joins events split across chunks (even inside a CRLF), multi-line data, ids and retry, and skips comments', async () => {
    const got = await events(': keep-alive\n\nevent: progress\r', '\nid: 7\ndata: {"a":', '1}\ndata: x\n\nretry: 2500\n\ndata: last\n\n');
    expect(got).to.deep.equal([
      { event: 'progress', data: '{"a":1}\nx', id: '7', retry: undefined },
      { event: 'message', data: '', id: '7', retry: 2500 },
      { event: 'message', data: 'last', id: '7', retry: undefined },
    ]);
  });

  it('drops an event the stream cut off before its blank line', async () => {
    expect(await events('data: whole\n\ndata: half')).to.deep.equal([{ event: 'message', data: 'whole', id: undefined, retry: undefined }]);
  });
});
