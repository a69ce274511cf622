// The compressed stream a console asks the server for: one raw deflate
// stream for the whole socket, one binary frame per message, each message
// followed by a 0x1E in the inflated text (internal/streamdeflate). A
// message can then refer to the ones before it, which is what makes the
// short messages of a session (mouse moves, scrolls) compress at all.

/** The subprotocol the server knows the stream by (protocol.StaffStream). */
export const STREAM_PROTOCOL = 'tomoni.stream-deflate';

const SEP = 0x1e;
// The end of the sync flush each message ends with, which the server leaves
// out as permessage-deflate does.
const TAIL = [0x00, 0x00, 0xff, 0xff];

/** Whether this browser can inflate the stream (DecompressionStream "deflate-raw"). */
export function canInflate(): boolean {
  try {
    new DecompressionStream('deflate-raw');
    return true;
  } catch {
    return false;
  }
}

/**
 * Inflates one socket's frames and hands each message's text on, in order.
 * DecompressionStream answers asynchronously, so whoever must act after the
 * last message (the socket's close) waits for idle().
 */
export class Inflater {
  private readonly writer: WritableStreamDefaultWriter<Uint8Array>;
  private readonly text = new TextDecoder();
  private parts: Uint8Array[] = [];
  private size = 0;
  private written = 0;
  private delivered = 0;
  private failed = false;
  private waiters: (() => void)[] = [];

  /** onMessage hears each message; onError once, if the stream is broken. */
  constructor(private readonly onMessage: (text: string) => void, private readonly onError: () => void) {
    const ds = new DecompressionStream('deflate-raw');
    this.writer = ds.writable.getWriter() as WritableStreamDefaultWriter<Uint8Array>;
    void this.pump(ds.readable.getReader() as ReadableStreamDefaultReader<Uint8Array>);
  }

  push(frame: ArrayBuffer): void {
    if (this.failed) return;
    const chunk = new Uint8Array(frame.byteLength + TAIL.length);
    chunk.set(new Uint8Array(frame));
    chunk.set(TAIL, frame.byteLength);
    this.written++;
    this.writer.write(chunk).catch(() => this.fail());
  }

  /** Resolves once every frame pushed so far has been handed on (or the stream broke). */
  idle(): Promise<void> {
    if (this.failed || this.delivered >= this.written) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Stops inflating: what is still pending is dropped. */
  stop(): void {
    this.failed = true;
    this.writer.abort().catch(() => undefined);
    this.wake();
  }

  private async pump(reader: ReadableStreamDefaultReader<Uint8Array>): Promise<void> {
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done || this.failed) return;
        let from = 0;
        for (let at = value.indexOf(SEP); at >= 0; at = value.indexOf(SEP, from)) {
          this.add(value.subarray(from, at));
          const bytes = this.join();
          this.delivered++;
          from = at + 1;
          this.onMessage(this.text.decode(bytes));
          if (this.failed) return;
        }
        this.add(value.subarray(from));
        this.wake();
      }
    } catch {
      this.fail();
    }
  }

  private add(part: Uint8Array): void {
    if (part.length === 0) return;
    this.parts.push(part);
    this.size += part.length;
  }

  private join(): Uint8Array {
    const parts = this.parts;
    this.parts = [];
    const size = this.size;
    this.size = 0;
    if (parts.length === 1) return parts[0];
    const out = new Uint8Array(size);
    let at = 0;
    for (const p of parts) { out.set(p, at); at += p.length; }
    return out;
  }

  private fail(): void {
    if (this.failed) return;
    this.failed = true;
    this.wake();
    this.onError();
  }

  private wake(): void {
    if (!this.failed && this.delivered < this.written) return;
    const w = this.waiters;
    this.waiters = [];
    for (const resolve of w) resolve();
  }
}
