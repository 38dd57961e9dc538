// GET /: a demo page a person can open in a browser — prompt, a few settings, streamed output
// and a stop button — built on /client.js, exactly as a static site would use it.
export const DEMO_HTML = String.raw`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Edge GPT-2</title>
<!-- An inline icon: browsers ask for /favicon.ico otherwise (a 404 in every console). -->
<link rel="icon" href="data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 16 16'%3E%3Crect width='16' height='16' rx='3' fill='%23f38020'/%3E%3Ctext x='8' y='12' font-size='10' text-anchor='middle' fill='white' font-family='sans-serif'%3EG%3C/text%3E%3C/svg%3E">
<style>
  /* Explicit Canvas colours, so text contrast is decided here (and measurable), in both schemes. */
  :root { color-scheme: light dark; font-family: system-ui, sans-serif; background: Canvas; color: CanvasText; }
  /* A long URL or an unbroken run of tokens wraps instead of widening the page on a phone. */
  body { max-width: 46rem; margin: 2rem auto; padding: 0 1rem; line-height: 1.5; overflow-wrap: anywhere; }
  h1 { font-size: 1.4rem; margin-bottom: 0.2rem; }
  .muted { opacity: 0.7; font-size: 0.9rem; }
  textarea { width: 100%; box-sizing: border-box; font: inherit; padding: 0.5rem; }
  fieldset { display: flex; flex-wrap: wrap; gap: 0.5rem 1.2rem; border: 1px solid #8884; border-radius: 6px; min-width: 0; }
  label { display: flex; align-items: center; gap: 0.4rem; }
  input[type=number] { width: 5.5rem; }
  .buttons { display: flex; gap: 0.5rem; margin: 0.8rem 0; }
  button { font: inherit; padding: 0.4rem 1.2rem; }
  #output { white-space: pre-wrap; border: 1px solid #8884; border-radius: 6px; padding: 0.8rem; min-height: 6rem; }
  #output .prompt { opacity: 0.6; }
  /* Errors at full opacity, ≥ 4.5:1 against the page: 6.5:1 on white, 8.2:1 on dark Canvas (#121212). */
  #status.error { opacity: 1; color: #b3261e; }
  @media (prefers-color-scheme: dark) { #status.error { color: #ff8a80; } }
</style>
</head>
<body>
<h1>Edge GPT-2</h1>
<p class="muted" id="model">GPT-2 text generation on Cloudflare Workers.</p>
<label for="prompt" class="muted">Prompt</label>
<textarea id="prompt" rows="3" data-testid="prompt">Once upon a time</textarea>
<fieldset>
  <legend class="muted">Settings</legend>
  <label>max new tokens <input id="max_new_tokens" type="number" min="1" value="64"></label>
  <label><input id="do_sample" type="checkbox" checked> sample</label>
  <label>temperature <input id="temperature" type="number" min="0.05" max="100" step="0.05" value="0.9"></label>
  <label>top_k <input id="top_k" type="number" min="0" value="50"></label>
  <label>top_p <input id="top_p" type="number" min="0.01" max="1" step="0.01" value="0.95"></label>
  <label>seed <input id="seed" type="number" min="0" placeholder="random"></label>
</fieldset>
<div class="buttons">
  <button id="generate" data-testid="generate">Generate</button>
  <button id="stop" data-testid="stop" disabled>Stop</button>
</div>
<div id="output" data-testid="output" aria-live="polite"></div>
<p id="status" class="muted" data-testid="status"></p>
<script type="module">
import { EdgeGpt2 } from "./client.js";

const gpt2 = new EdgeGpt2();
const $ = (id) => document.getElementById(id);
let running = null;

// /v1/info answers once the Worker has loaded its model (asking it starts the load), so until it
// answers a generation is waiting for the model, not generating: the status says so.
let modelReady = false;
const modelInfo = fetch("./v1/info").then((r) => (r.ok ? r.json() : null)).then((info) => {
  if (!info) return;
  modelReady = true;
  $("model").textContent = "Model " + info.model.id + " (" + info.model.dtype + ", context " + info.model.context_window + " tokens), server " + info.server.version;
}).catch(() => {});

function request() {
  const body = { prompt: $("prompt").value, max_new_tokens: Number($("max_new_tokens").value) || 64 };
  if ($("do_sample").checked) {
    body.do_sample = true;
    body.temperature = Number($("temperature").value);
    body.top_k = Number($("top_k").value);
    body.top_p = Number($("top_p").value);
  }
  if ($("seed").value !== "") body.seed = Number($("seed").value);
  return body;
}

function setRunning(controller) {
  running = controller;
  $("generate").disabled = controller !== null;
  $("stop").disabled = controller === null;
}

function setStatus(text, isError) {
  $("status").textContent = text;
  $("status").className = isError ? "muted error" : "muted";
}

$("generate").addEventListener("click", async () => {
  const controller = new AbortController();
  setRunning(controller);
  const output = $("output");
  output.textContent = "";
  const prompt = document.createElement("span");
  prompt.className = "prompt";
  prompt.textContent = $("prompt").value;
  const generated = document.createElement("span");
  generated.dataset.testid = "generated";
  output.append(prompt, generated);
  let tokens = 0;
  setStatus(modelReady ? "generating…" : "loading model…");
  if (!modelReady) modelInfo.then(() => { if (modelReady && running === controller && tokens === 0) setStatus("generating…"); });
  try {
    for await (const event of gpt2.stream(request(), { signal: controller.signal })) {
      if (event.type === "token" || event.type === "finish") generated.textContent += event.text;
      if (event.type === "token") setStatus("generating… " + ++tokens + " tokens");
      if (event.type === "done") {
        const g = event.generations[0];
        setStatus("done: " + g.finish_reason + ", " + event.usage.completion_tokens + " tokens, " + (event.timings.decode_tokens_per_second ?? "–") + " tokens/s" + (event.seed !== undefined ? ", seed " + event.seed : ""));
      }
    }
  } catch (error) {
    if (error.name === "AbortError") setStatus("stopped after " + tokens + " tokens");
    // Messages name their field already ("top_p must be …"); prefix it only where one does not.
    else setStatus((error.param && !error.message.includes(error.param) ? error.param + ": " : "") + error.message, true);
  } finally {
    setRunning(null);
  }
});

$("stop").addEventListener("click", () => running && running.abort());
</script>
</body>
</html>
`;
