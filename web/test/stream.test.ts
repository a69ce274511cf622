// The console's inflater (console/stream.ts) on a raw deflate stream made
// the way the server makes it: one stream per socket, each message followed
// by 0x1E and a sync flush, the flush's last four bytes left out.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { constants, createDeflateRaw } from 'node:zlib';
import { Inflater } from '../console/stream';

/** Compresses messages into frames as the server does. */
async function frames(messages: string[]): Promise<ArrayBuffer[]> {
  const z = createDeflateRaw();
  const out: ArrayBuffer[] = [];
  for (const m of messages) {
    const chunks: Buffer[] = [];
    const onData = (c: Buffer) => chunks.push(c);
    z.on('data', onData);
    z.write(Buffer.concat([Buffer.from(m, 'utf8'), Buffer.from([0x1e])]));
    await new Promise<void>((resolve) => z.flush(constants.Z_SYNC_FLUSH, () => resolve()));
    z.off('data', onData);
    const all = Buffer.concat(chunks);
    assert.deepEqual([...all.subarray(all.length - 4)], [0, 0, 0xff, 0xff]);
    const f = all.subarray(0, all.length - 4);
    out.push(f.buffer.slice(f.byteOffset, f.byteOffset + f.length) as ArrayBuffer);
  }
  z.close();
  return out;
}

test('messages come back whole and in order, however the inflater cuts its output', async () => {
  const big = JSON.stringify({ t: 'events', events: [{ text: '口座番号の確認'.repeat(20000) }] }); // ~420 KB, split by the inflater
  const messages = ['{"t":"state","state":"live"}', big, '{"t":"link","side":"staff","rtt_ms":3}', '', '{"t":"reset"}'];
  for (let i = 0; i < 200; i++) messages.push(`{"t":"events","events":[{"type":3,"data":{"source":1,"positions":[{"x":${i},"y":${i % 7}}]}}]}`);
  const got: string[] = [];
  let broken = 0;
  const inf = new Inflater((m) => got.push(m), () => broken++);
  for (const f of await frames(messages)) inf.push(f);
  await inf.idle();
  assert.equal(broken, 0);
  assert.equal(got.length, messages.length);
  assert.deepEqual(got, messages);
});

test('idle waits for the last frame pushed', async () => {
  const got: string[] = [];
  const inf = new Inflater((m) => got.push(m), () => assert.fail('stream broke'));
  const fs = await frames(['one', 'two', 'three']);
  for (const f of fs) inf.push(f);
  await inf.idle();
  assert.deepEqual(got, ['one', 'two', 'three']);
  await inf.idle(); // nothing pending: at once
});

test('a broken stream is reported once, and idle does not hang', async () => {
  const got: string[] = [];
  let broken = 0;
  const inf = new Inflater((m) => got.push(m), () => broken++);
  const [first] = await frames(['fine']);
  inf.push(first);
  inf.push(new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff]).buffer);
  inf.push(first);
  await inf.idle();
  assert.deepEqual(got, ['fine']);
  assert.equal(broken, 1);
});
