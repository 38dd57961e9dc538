// The browser client (/client.js) as served by `wrangler dev`, imported as an ES module in Node
// (its fetch is the standard one): tokenize(), detokenize(), and the request id on its errors.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startWranglerDev, type DevServer } from "../browser/wrangler-dev";

interface ClientError extends Error { status: number; type: string | null; param: string | null; requestId: string | null }
interface Client {
  tokenize(text: string): Promise<{ count: number; ids: number[]; tokens: { id: number; text: string | null; bytes: number[] }[] }>;
  detokenize(tokens: number[]): Promise<{ text: string }>;
  generate(request: object): Promise<{ usage: { prompt_tokens: number } }>;
}

let server: DevServer;
let dir: string;
let client: Client;
let ClientErrorClass: new (...args: never[]) => ClientError;

beforeAll(async () => {
  server = await startWranglerDev();
  dir = await mkdtemp(path.join(tmpdir(), "edge-gpt2-client-"));
  const file = path.join(dir, "client.mjs");
  await writeFile(file, await (await fetch(`${server.url}/client.js`)).text());
  const module = (await import(pathToFileURL(file).href)) as { EdgeGpt2: new (options: { baseUrl: string }) => Client; EdgeGpt2Error: typeof ClientErrorClass };
  client = new module.EdgeGpt2({ baseUrl: `${server.url}/` });
  ClientErrorClass = module.EdgeGpt2Error;
});

afterAll(async () => {
  await server?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("client.js tokenize() / detokenize()", () => {
  it("counts a prompt's tokens as generation counts them, and round-trips the ids", async () => {
    const prompt = "How many tokens is this? Ça dépend.";
    const tokenized = await client.tokenize(prompt);
    expect(tokenized.count).toBe(tokenized.ids.length);
    expect(tokenized.tokens.map((t) => t.id)).toEqual(tokenized.ids);
    const generated = await client.generate({ prompt, max_new_tokens: 1 });
    expect(generated.usage.prompt_tokens).toBe(tokenized.count);
    expect(await client.detokenize(tokenized.ids)).toEqual({ text: prompt });
  });

  it("failures throw EdgeGpt2Error naming the field, with the response's request id", async () => {
    const error = await client.detokenize([1, -5]).then(() => null, (e: unknown) => e as ClientError);
    expect(error).toBeInstanceOf(ClientErrorClass);
    expect(error).toMatchObject({ status: 400, type: "invalid_request_error", param: "tokens[1]" });
    expect(error!.requestId).toMatch(/^[0-9a-f-]{36}$/);
  });
});
