// A second Worker (auxiliary, see vitest.config.ts) that uses Edge GPT-2 the way another
// serverless function would: through a service binding to the Gpt2Service entrypoint (RPC).
export default {
  async fetch(request, env) {
    const { pathname } = new URL(request.url);
    const body = await request.json();
    // The caller's own request id, passed on so both Workers' logs share it.
    const options = request.headers.has("x-request-id") ? { requestId: request.headers.get("x-request-id") } : undefined;
    try {
      if (pathname === "/generate") return Response.json(await env.GPT2.generate(body, options));
      if (pathname === "/stream") {
        const stream = await env.GPT2.generateStream(body);
        return new Response(stream, { headers: { "content-type": "text/event-stream" } });
      }
      if (pathname === "/stream-then-cancel") {
        // Read the first event, then lose interest (as a caller whose own client went away).
        const reader = (await env.GPT2.generateStream(body)).getReader();
        const { value } = await reader.read();
        await reader.cancel();
        return new Response(value);
      }
      return new Response("no such route", { status: 404 });
    } catch (error) {
      // What crosses the RPC boundary, as the caller sees it.
      const { name, message, status = null, type = null, param = null } = error;
      return Response.json({ thrown: { name, message, status, type, param, ownKeys: Object.keys(error) } }, { status: 502 });
    }
  },
};
