// What every response must satisfy on its own (shape, text = decode(token_ids), usage adds up,
// streamed deltas add up to the final text), and what a deterministic response must equal: the
// same request's answer when it ran alone. Each check returns the problems it found, in words.
import { EOS_TOKEN_ID, decode, encode } from "../../src/tokenizer/index";
import type { GenerateResponseBody, Observation } from "./client";
import type { GenerateBody } from "./workload";

const FINISH_REASONS = new Set(["stop", "length", "time", "cancelled"]);

/** Problems with a 200 response judged against its own request. */
export function checkResponse(request: GenerateBody, observation: Observation): string[] {
  const body = observation.body;
  if (!body) return ["no response body"];
  const problems: string[] = [];
  const expectedCount = request.num_return_sequences ?? 1;
  if (!Array.isArray(body.generations) || body.generations.length !== expectedCount) {
    return [`expected ${expectedCount} generations, got ${JSON.stringify(body.generations)?.slice(0, 200)}`];
  }

  const promptIds = encode(request.prompt);
  const promptTokens = promptIds.length > 0 ? promptIds.length : 1; // an empty prompt starts from BOS
  let completion = 0;
  for (const [i, generation] of body.generations.entries()) {
    const where = `generations[${i}]`;
    if (generation.index !== i) problems.push(`${where}.index is ${generation.index}`);
    if (!FINISH_REASONS.has(generation.finish_reason)) problems.push(`${where}.finish_reason is ${JSON.stringify(generation.finish_reason)}`);
    const ids = generation.token_ids;
    if (!Array.isArray(ids) || !ids.every((id) => Number.isInteger(id) && id >= 0 && id < EOS_TOKEN_ID)) {
      problems.push(`${where}.token_ids are not all token ids below ${EOS_TOKEN_ID}`);
      continue;
    }
    completion += ids.length;
    if (ids.length > request.max_new_tokens) problems.push(`${where} has ${ids.length} tokens, above max_new_tokens ${request.max_new_tokens}`);
    if (generation.finish_reason === "length" && ids.length !== request.max_new_tokens) {
      problems.push(`${where} finished by length after ${ids.length} of ${request.max_new_tokens} tokens`);
    }
    if (generation.finish_reason === "stop" && ids.length < (request.min_new_tokens ?? 0) && !stopStringCut(request, generation.text, ids)) {
      problems.push(`${where} ended by <|endoftext|> after ${ids.length} tokens, below min_new_tokens ${request.min_new_tokens}`);
    }
    problems.push(...checkText(request, generation.text, ids, where));
  }

  const usage = body.usage;
  if (usage?.prompt_tokens !== promptTokens) problems.push(`usage.prompt_tokens is ${usage?.prompt_tokens}, the prompt is ${promptTokens} tokens`);
  if (usage?.completion_tokens !== completion) problems.push(`usage.completion_tokens is ${usage?.completion_tokens}, token_ids hold ${completion}`);
  if (usage?.total_tokens !== promptTokens + completion) problems.push(`usage.total_tokens is ${usage?.total_tokens}, not ${promptTokens + completion}`);
  if (request.do_sample) {
    if (!Number.isInteger(body.seed)) problems.push("a sampled response has no seed");
    else if (request.seed !== undefined && body.seed !== request.seed) problems.push(`seed is ${body.seed}, the request sent ${request.seed}`);
  }
  // The response cache is off in the load test's server: a cached answer would prove nothing.
  if (body.timings?.cache !== undefined && body.timings.cache !== "model") problems.push(`answered from the cache (${String(body.timings.cache)})`);
  if (observation.events) problems.push(...checkStream(body, observation));
  return problems;
}

/** text = decode(token_ids), or a prefix of it that ends right where a stop string starts. */
function checkText(request: GenerateBody, text: string, ids: number[], where: string): string[] {
  if (typeof text !== "string") return [`${where}.text is not a string`];
  const decoded = decode(ids);
  if (text === decoded) return [];
  if (stopStringCut(request, text, ids)) return [];
  return [`${where}.text ${JSON.stringify(text.slice(-60))} is not decode(token_ids) ${JSON.stringify(decoded.slice(-60))}`];
}

function stopStringCut(request: GenerateBody, text: string, ids: number[]): boolean {
  const decoded = decode(ids);
  return decoded.startsWith(text) && (request.stop ?? []).some((stop) => decoded.startsWith(stop, text.length));
}

/** Streamed: per sequence, token events = token_ids, and the deltas plus the finish text = text. */
function checkStream(body: GenerateResponseBody, observation: Observation): string[] {
  const { tokens, finishes } = observation.events!;
  const problems: string[] = [];
  for (const [i, generation] of body.generations.entries()) {
    const events = tokens.get(i) ?? [];
    const finish = finishes.get(i);
    const ids = events.map((e) => e.token_id);
    if (ids.join() !== generation.token_ids.join()) {
      problems.push(`stream sequence ${i}: token events [${ids.slice(0, 8)}…] (${ids.length}) differ from token_ids (${generation.token_ids.length})`);
    }
    if (!finish) {
      problems.push(`stream sequence ${i}: no finish event`);
      continue;
    }
    const streamed = events.map((e) => e.text).join("") + finish.text;
    if (streamed !== generation.text) problems.push(`stream sequence ${i}: deltas add up to ${JSON.stringify(streamed.slice(-60))}, the text is ${JSON.stringify(generation.text.slice(-60))}`);
    if (finish.finish_reason !== generation.finish_reason) problems.push(`stream sequence ${i}: finish event says ${finish.finish_reason}, the body ${generation.finish_reason}`);
  }
  const extra = [...tokens.keys(), ...finishes.keys()].filter((i) => i >= body.generations.length);
  if (extra.length > 0) problems.push(`stream has events for sequences ${[...new Set(extra)]} that the body does not have`);
  return problems;
}

/** Differences between a response under load and the same request's answer alone. */
export function compareToExpected(expected: GenerateResponseBody, actual: GenerateResponseBody): string[] {
  const problems: string[] = [];
  for (const [i, want] of expected.generations.entries()) {
    const got = actual.generations[i];
    if (!got) {
      problems.push(`sequence ${i} missing`);
      continue;
    }
    const at = firstDifference(want.token_ids, got.token_ids);
    if (at >= 0) {
      problems.push(
        `sequence ${i}: token_ids differ from token ${at} on (alone: …${want.token_ids.slice(at, at + 4)}… of ${want.token_ids.length}; ` +
          `under load: …${got.token_ids.slice(at, at + 4)}… of ${got.token_ids.length})`,
      );
    } else if (want.text !== got.text) {
      problems.push(`sequence ${i}: same tokens, different text`);
    }
    if (want.finish_reason !== got.finish_reason) problems.push(`sequence ${i}: finish_reason ${got.finish_reason}, alone ${want.finish_reason}`);
  }
  return problems;
}

function firstDifference(a: number[], b: number[]): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) if (a[i] !== b[i]) return i;
  return -1;
}
