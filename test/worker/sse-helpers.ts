// Reading server-sent events in tests: frames of `event:` and `data:` lines.
export interface SseEvent {
  event: string;
  data: unknown;
}

export function parseEvents(text: string): SseEvent[] {
  return text
    .split("\n\n")
    .filter((frame) => frame.trim() !== "")
    .map((frame) => {
      let event = "message";
      const data: string[] = [];
      for (const line of frame.split("\n")) {
        if (line.startsWith("event: ")) event = line.slice(7);
        else if (line.startsWith("data: ")) data.push(line.slice(6));
      }
      const joined = data.join("\n");
      return { event, data: joined === "[DONE]" ? joined : JSON.parse(joined) };
    });
}

export async function readEvents(response: Response): Promise<SseEvent[]> {
  return parseEvents(await response.text());
}
