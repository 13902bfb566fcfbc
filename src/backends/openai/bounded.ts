// What a server may send before Concord stops reading: a response that is not the API (an HTML
// page answered with 200), a streamed line or event larger than any real token event, or a JSON
// body larger than any real answer. Checked on the bytes as they arrive, so a 50 MB event fails
// after its first megabytes instead of being buffered and parsed.

export interface BodyLimits {
  /** Longest line of a server-sent event stream, in bytes. */
  maxLineBytes: number;
  /** Largest server-sent event (lines up to a blank line), in bytes. */
  maxEventBytes: number;
  /** Largest JSON body, in bytes. */
  maxJsonBytes: number;
}

export const DEFAULT_BODY_LIMITS: BodyLimits = {
  maxLineBytes: 1 << 20,
  maxEventBytes: 2 << 20,
  maxJsonBytes: 64 << 20,
};

/** The error a bounded body fails with; the transport turns it into a one-line BackendError. */
export class BodyLimitError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "BodyLimitError";
  }
}

const NL = 0x0a;

/** A byte stream that errors once a line, an event (SSE) or the whole body (JSON) is too large. */
export function boundedBody(body: ReadableStream<Uint8Array>, sse: boolean, limits: BodyLimits): ReadableStream<Uint8Array> {
  let line = 0;
  let event = 0;
  let total = 0;
  let prev = 0;
  return body.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        if (!sse) {
          total += chunk.byteLength;
          if (total > limits.maxJsonBytes) return controller.error(new BodyLimitError(`the answer is larger than ${mb(limits.maxJsonBytes)}`));
          return controller.enqueue(chunk);
        }
        for (let i = 0; i < chunk.byteLength; i++) {
          const byte = chunk[i];
          if (byte === NL) {
            // A blank line ends an event ("\n\n" or "\r\n\r\n").
            if (line === 0 || (line === 1 && prev === 0x0d)) event = 0;
            line = 0;
          } else {
            line++;
            event++;
          }
          prev = byte;
        }
        if (line > limits.maxLineBytes) return controller.error(new BodyLimitError(`a streamed line is longer than ${mb(limits.maxLineBytes)}`));
        if (event > limits.maxEventBytes) return controller.error(new BodyLimitError(`a streamed event is larger than ${mb(limits.maxEventBytes)}`));
        controller.enqueue(chunk);
      },
    }),
  );
}

function mb(bytes: number): string {
  return `${Math.round((bytes / (1 << 20)) * 10) / 10} MB`;
}

/**
 * A response that cannot be the API although its status says it is: an HTML page (a proxy's
 * login or error page, a web UI at the wrong path). Null when the response looks like the API.
 */
export function notTheAPI(res: Response): string | null {
  if (!res.ok) return null;
  const type = (res.headers.get("content-type") ?? "").toLowerCase();
  if (type.includes("text/html")) return "the server answered with an HTML page, not the API (is baseURL the API's address, usually ending in /v1?)";
  return null;
}
