// Fuzzing the request bodies of POST /v1/generate and POST /v1/completions inside workerd: a few
// thousand generated hostile bodies (fuzz-bodies.ts). Whatever comes in: never a 5xx, never a hang,
// always JSON (or a well-formed event stream when one was asked for); a 4xx always has the
// route's error shape with a message that names the problem and, when one field was made hostile,
// `param` naming it; a 200 always has the documented shape. Failures print the seed and the body.
import { describe, expect, it } from "vitest";
import app from "../../src/index";
import { FUZZ_PATHS, fuzzCases, fuzzRequestInit, type FuzzCase, type Route } from "./fuzz-bodies";
import { envFor } from "./helpers";
import { parseEvents } from "./sse-helpers";

// Change to explore other bodies; a failure names the seed and case number to reproduce it.
const FUZZ_SEED = 0x5eed_2026;
const CASES_PER_ROUTE = 2000;
const MAX_NEW_TOKENS_CAP = 4;
const env = envFor("synthetic-int8", { MAX_NEW_TOKENS_CAP: String(MAX_NEW_TOKENS_CAP), DEFAULT_MAX_NEW_TOKENS: "2" });
const TIMEOUT_MS = 15_000;

async function send(route: Route, fuzz: FuzzCase): Promise<Response> {
  const init = fuzzRequestInit(fuzz);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const hang = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no complete answer within ${TIMEOUT_MS} ms (hang)`)), TIMEOUT_MS);
  });
  try {
    // The body is read inside the race too: a stream that never ends is a hang as well.
    return await Promise.race([
      (async () => {
        const response = await app.request(FUZZ_PATHS[route], init, env);
        const text = await response.text();
        return new Response(text, { status: response.status, headers: response.headers });
      })(),
      hang,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

type Json = Record<string, any>;
const isInt = (value: unknown) => Number.isInteger(value) && (value as number) >= 0;

/** Everything wrong with one answer, in words (empty: the answer is fine). */
async function problemsOf(route: Route, fuzz: FuzzCase, response: Response): Promise<string[]> {
  const status = response.status;
  const type = response.headers.get("content-type") ?? "";
  const text = await response.text();
  if (status >= 500) return [`HTTP ${status}: ${text.slice(0, 300)}`];
  if (fuzz.status !== undefined && status !== fuzz.status) return [`expected HTTP ${fuzz.status}, got ${status}: ${text.slice(0, 300)}`];
  if (status === 200 && type.startsWith("text/event-stream")) return streamProblems(route, text);
  if (!type.startsWith("application/json")) return [`HTTP ${status} with Content-Type ${JSON.stringify(type)}`];
  let body: Json;
  try {
    body = JSON.parse(text);
  } catch {
    return [`HTTP ${status} with a body that is not JSON: ${text.slice(0, 200)}`];
  }
  if (status === 200) return route === "generate" ? generateProblems(body) : completionProblems(body);
  if (status < 400) return [`unexpected HTTP ${status}`];
  return errorProblems(route, fuzz, body);
}

function errorProblems(route: Route, fuzz: FuzzCase, body: Json): string[] {
  const error = body?.error;
  const problems: string[] = [];
  const keys = route === "generate" ? ["message", "param", "request_id", "type"] : ["code", "message", "param", "request_id", "type"];
  if (!error || Object.keys(error).sort().join() !== keys.join()) return [`error body is not {error:{${keys}}}: ${JSON.stringify(body).slice(0, 300)}`];
  if (typeof error.type !== "string" || !error.type) problems.push("error.type is not a string");
  if (typeof error.request_id !== "string" || !error.request_id) problems.push("error.request_id is not a string");
  if (typeof error.message !== "string" || error.message.length < 8) problems.push(`error.message says nothing: ${JSON.stringify(error.message)}`);
  if (error.param !== null && typeof error.param !== "string") problems.push(`error.param is ${JSON.stringify(error.param)}`);
  if (route === "completions" && error.code !== null && typeof error.code !== "string") problems.push(`error.code is ${JSON.stringify(error.code)}`);
  if (fuzz.message && !fuzz.message.test(error.message)) problems.push(`message ${JSON.stringify(error.message)} does not match ${fuzz.message}`);
  const root = typeof error.param === "string" ? error.param.split(/[.[]/)[0] : null;
  // The message names the field it is about (param "stop[1]" → a message about "stop").
  if (root && !error.message.includes(root)) problems.push(`message ${JSON.stringify(error.message)} does not name its param ${error.param}`);
  if (fuzz.field !== undefined && error.type === "invalid_request_error" && root !== fuzz.field) {
    problems.push(`only ${JSON.stringify(fuzz.field)} was hostile, but param is ${JSON.stringify(error.param)} (${error.message})`);
  }
  return problems;
}

function generateProblems(body: Json): string[] {
  const problems: string[] = [];
  if (typeof body.model !== "string") problems.push("model is not a string");
  if (!Array.isArray(body.generations) || body.generations.length === 0) return [...problems, "generations is not a non-empty array"];
  let completion = 0;
  body.generations.forEach((g: Json, i: number) => {
    if (g.index !== i || typeof g.text !== "string" || !["stop", "length", "time", "cancelled"].includes(g.finish_reason)) {
      problems.push(`generations[${i}] is malformed: ${JSON.stringify(g).slice(0, 200)}`);
    }
    if (!Array.isArray(g.token_ids) || !g.token_ids.every(isInt)) problems.push(`generations[${i}].token_ids are not token ids`);
    else if (g.token_ids.length > MAX_NEW_TOKENS_CAP) problems.push(`generations[${i}] has ${g.token_ids.length} tokens, above the cap ${MAX_NEW_TOKENS_CAP}`);
    completion += g.token_ids?.length ?? 0;
  });
  const u = body.usage ?? {};
  if (!isInt(u.prompt_tokens) || u.prompt_tokens < 1 || u.completion_tokens !== completion || u.total_tokens !== u.prompt_tokens + completion) {
    problems.push(`usage does not add up: ${JSON.stringify(u)}`);
  }
  if (typeof body.timings !== "object" || body.timings === null) problems.push("timings missing");
  if ("seed" in body && !isInt(body.seed)) problems.push(`seed is ${body.seed}`);
  return problems;
}

function completionProblems(body: Json): string[] {
  const problems: string[] = [];
  if (!/^cmpl-/.test(body.id) || body.object !== "text_completion" || !isInt(body.created) || typeof body.model !== "string") {
    problems.push(`completion head is malformed: ${JSON.stringify({ ...body, choices: undefined }).slice(0, 200)}`);
  }
  if (!Array.isArray(body.choices) || body.choices.length === 0) return [...problems, "choices is not a non-empty array"];
  body.choices.forEach((c: Json, i: number) => {
    if (c.index !== i || typeof c.text !== "string" || !["stop", "length"].includes(c.finish_reason) || !("logprobs" in c)) {
      problems.push(`choices[${i}] is malformed: ${JSON.stringify(c).slice(0, 200)}`);
    }
  });
  const u = body.usage ?? {};
  if (!isInt(u.prompt_tokens) || !isInt(u.completion_tokens) || u.total_tokens !== u.prompt_tokens + u.completion_tokens) {
    problems.push(`usage does not add up: ${JSON.stringify(u)}`);
  } else if (u.completion_tokens > MAX_NEW_TOKENS_CAP * body.choices.length) {
    problems.push(`${u.completion_tokens} completion tokens for ${body.choices.length} choices, above the cap ${MAX_NEW_TOKENS_CAP} each`);
  }
  return problems;
}

function streamProblems(route: Route, text: string): string[] {
  let events;
  try {
    events = parseEvents(text);
  } catch (error) {
    return [`event stream with a frame that is not JSON: ${(error as Error).message}; ${text.slice(0, 200)}`];
  }
  const last = events.at(-1);
  const failed = events.find((e) => e.event === "error");
  if (failed) return [`stream ended with an error frame: ${JSON.stringify(failed.data).slice(0, 300)}`];
  if (route === "generate") return last?.event === "done" ? generateProblems(last.data as Json) : ["stream did not end with a done event"];
  return last?.data === "[DONE]" ? [] : ["stream did not end with data: [DONE]"];
}

const describeBody = (fuzz: FuzzCase) => {
  const body = typeof fuzz.body === "string" ? fuzz.body : `bytes ${Array.from(fuzz.body, (b) => b.toString(16).padStart(2, "0")).join(" ")}`;
  return body.length > 400 ? `${body.slice(0, 200)} …(${body.length} chars)… ${body.slice(-100)}` : body;
};

async function fuzzRoute(route: Route, modelName: string) {
  const cases = fuzzCases(route, FUZZ_SEED, CASES_PER_ROUTE, modelName, Number(env.MAX_BODY_BYTES));
  const failures: string[] = [];
  for (const [n, fuzz] of cases.entries()) {
    let problems: string[];
    try {
      problems = await problemsOf(route, fuzz, await send(route, fuzz));
    } catch (error) {
      problems = [`threw: ${(error as Error).message}`];
    }
    if (problems.length > 0) {
      failures.push(`seed ${FUZZ_SEED} case ${n} (${fuzz.kind}; Content-Type ${JSON.stringify(fuzz.contentType)}${fuzz.chunked ? ", chunked" : ""})\n` +
        `  body: ${describeBody(fuzz)}\n  ${problems.join("\n  ")}`);
    }
  }
  expect(failures.length, `${failures.length} of ${cases.length} bodies failed:\n${failures.slice(0, 15).join("\n")}`).toBe(0);
  // Nothing a body held ("__proto__", "constructor") reached the shared prototypes.
  expect(({} as Json).polluted).toBeUndefined();
  expect(Object.keys(Object.prototype)).toEqual([]);
}

describe("fuzzed request bodies", () => {
  it(`POST /v1/generate: ${CASES_PER_ROUTE} bodies, never a 5xx or a hang, always the documented JSON`, async () => {
    await fuzzRoute("generate", "");
  });

  it(`POST /v1/completions: ${CASES_PER_ROUTE} bodies, OpenAI's error shape`, async () => {
    const models = await app.request("/v1/models", {}, env);
    expect(models.status).toBe(200);
    const modelName = ((await models.json()) as { data: { id: string }[] }).data[0].id;
    await fuzzRoute("completions", modelName);
  });
});
