// GET /client.js: a dependency-free ES module for web pages, served by the Worker itself so a
// static site needs nothing but
//   <script type="module">import { EdgeGpt2 } from "https://<worker>/client.js"; …</script>
// It is plain JavaScript kept as a string (the Worker serves it verbatim); the demo page and the
// headless-Chromium test use it, so a mistake here fails a test.
export const CLIENT_JS = String.raw`// Edge GPT-2 browser client (ES module, no dependencies).
//
//   import { EdgeGpt2 } from "https://<worker>/client.js";
//   const gpt2 = new EdgeGpt2();            // talks to the Worker that served this file
//   const body = await gpt2.generate({ prompt: "Once upon a time", max_new_tokens: 20 });
//   console.log(body.generations[0].text);
//
//   const stop = new AbortController();     // stop.abort() ends the generation on the server too
//   for await (const event of gpt2.stream({ prompt: "Hello" }, { signal: stop.signal })) {
//     if (event.type === "token") output.textContent += event.text;
//   }
//
//   const { count } = await gpt2.tokenize("How many tokens is this?");   // before sending a prompt
//   const { text } = await gpt2.detokenize([15496, 995]);
//
// Requests are /v1/generate bodies. Stream events: {type: "token", index, token_id, text},
// {type: "finish", index, finish_reason, text}, and last {type: "done", ...the JSON response}.
// Failures throw EdgeGpt2Error with status, type, param (the field at fault), message and
// requestId (the response's x-request-id: quote it when reporting a problem).

const DEFAULT_BASE_URL = new URL(".", import.meta.url).href;

export class EdgeGpt2Error extends Error {
  constructor(status, body, requestId) {
    const error = (body && body.error) || {};
    super(error.message || "HTTP " + status);
    this.name = "EdgeGpt2Error";
    this.status = status;
    this.type = error.type || null;
    this.param = error.param || null;
    this.requestId = error.request_id || requestId || null;
  }
}

export class EdgeGpt2 {
  /** options: baseUrl (default: where client.js came from), apiKey (when the server needs one). */
  constructor(options = {}) {
    this.baseUrl = options.baseUrl || DEFAULT_BASE_URL;
    this.apiKey = options.apiKey || null;
  }

  /** The whole response at once. options.signal aborts it. */
  async generate(request, options = {}) {
    const response = await this.post("v1/generate", Object.assign({}, request, { stream: false }), options.signal);
    const body = await response.json();
    // A failure after the 200 went out (the model broke mid-run) ends the body with the error.
    if (body.error) throw new EdgeGpt2Error(500, body, response.headers.get("x-request-id"));
    return body;
  }

  /** GPT-2's tokens of text: {count, ids, tokens: [{id, text, bytes}]} (text null inside a character). */
  async tokenize(text, options = {}) {
    return (await this.post("v1/tokenize", { text }, options.signal)).json();
  }

  /** The text of token ids: {text}. */
  async detokenize(tokens, options = {}) {
    return (await this.post("v1/detokenize", { tokens }, options.signal)).json();
  }

  /** Async iterator over token events. Abort options.signal (or break out of the loop) to stop. */
  async *stream(request, options = {}) {
    const response = await this.post("v1/generate", Object.assign({}, request, { stream: true }), options.signal);
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value.replace(/\r\n/g, "\n");
        let end;
        while ((end = buffer.indexOf("\n\n")) >= 0) {
          const frame = parseFrame(buffer.slice(0, end));
          buffer = buffer.slice(end + 2);
          if (frame === null) continue;
          if (frame.event === "error") throw new EdgeGpt2Error(response.status, frame.data, response.headers.get("x-request-id"));
          yield Object.assign({ type: frame.event }, frame.data);
          if (frame.event === "done") {
            // The server ends the body right after its done frame: read to that end rather than
            // cancel, so the request completes instead of showing as aborted (a failed fetch in
            // the browser) when the close arrives a moment after the frame.
            while (!(await reader.read()).done);
            return;
          }
        }
      }
      throw new EdgeGpt2Error(0, { error: { type: "stream_ended", message: "the stream ended before its done event" } });
    } finally {
      reader.cancel().catch(() => {});
    }
  }

  async post(path, body, signal) {
    const headers = { "content-type": "application/json" };
    if (this.apiKey) headers.authorization = "Bearer " + this.apiKey;
    const response = await fetch(new URL(path, this.baseUrl), {
      method: "POST",
      headers,
      body: JSON.stringify(body),
      signal,
    });
    if (!response.ok) throw new EdgeGpt2Error(response.status, await response.json().catch(() => null), response.headers.get("x-request-id"));
    return response;
  }
}

function parseFrame(text) {
  let event = "message";
  const data = [];
  for (const line of text.split("\n")) {
    if (line.startsWith("event:")) event = line.slice(6).trim();
    else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
  }
  return data.length === 0 ? null : { event, data: JSON.parse(data.join("\n")) };
}

/** One-off helpers: generate(request, { baseUrl, apiKey, signal }). */
export function generate(request, options = {}) {
  return new EdgeGpt2(options).generate(request, options);
}

export function stream(request, options = {}) {
  return new EdgeGpt2(options).stream(request, options);
}
`;
