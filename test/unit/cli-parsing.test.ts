import { expect } from 'chai';
import { parseDomainList } from '../../cli/domain-list';
import { parseSse } from '../../cli/sse';

async function* chunks(...parts: string[]) {
  for (const p of parts) yield new TextEncoder().encode(p);
}

async function events(...parts: string[]) {
  const out = [];
  for await (const e of parseSse(chunks(...parts))) out.push(e);
  return out;
}

describe('CLI domain lists', () => {
  it('reads text with one name per line or several per line separated by commas, keeping each name’s line', () => {
    const list = parseDomainList('\uFEFFa.example\r\n\r\nb.example, c.example\rd.example,\n');
    expect(list).to.deep.equal({ names: ['a.example', 'b.example', 'c.example', 'd.example'], lines: [1, 3, 3, 4], format: 'text' });
  });

  it('reads the first column of a CSV, dropping a header row, with quoted cells holding commas, quotes and line breaks', () => {
    const csv = 'domain,status,message\n"a.example",failed,"not, here"\nb.example,skipped,"two\nlines ""quoted"""\n\nc.example,pushed,\n';
    expect(parseDomainList(csv)).to.deep.equal({ names: ['a.example', 'b.example', 'c.example'], lines: [2, 3, 6], format: 'csv' });
  });

  it('takes a .csv file as CSV even without a header, and --format text keeps every comma-separated cell', () => {
    expect(parseDomainList('a.example,x\nb.example,y\n', 'auto', 'list.csv').names).to.deep.equal(['a.example', 'b.example']);
    expect(parseDomainList('a.example,b.example\n', 'text', 'list.csv').names).to.deep.equal(['a.example', 'b.example']);
  });
});

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
