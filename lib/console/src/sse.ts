/**
 * Server-sent events over fetch (EventSource cannot send an Authorization header): the frame
 * parser (pure, unit-tested) and the client that reconnects with `Last-Event-ID` after each
 * answer, as the events stream endpoint expects (it answers and closes: long-poll SSE).
 */

export interface SseMessage {
  id?: string;
  event?: string;
  data: string;
}

/**
 * Parses the complete frames of `text` (frames end with a blank line); `rest` is the unfinished
 * tail to prepend to the next chunk. `retry` is the last reconnection time the server gave.
 */
export function parseSseChunk(text: string): { messages: SseMessage[]; retry?: number; rest: string } {
  const normalized = text.replace(/\r\n?/g, '\n');
  const frames = normalized.split('\n\n');
  const rest = frames.pop() ?? '';
  const messages: SseMessage[] = [];
  let retry: number | undefined;
  for (const frame of frames) {
    const data: string[] = [];
    let id: string | undefined;
    let event: string | undefined;
    for (const line of frame.split('\n')) {
      if (line === '' || line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      let value = colon < 0 ? '' : line.slice(colon + 1);
      if (value.startsWith(' ')) value = value.slice(1);
      if (field === 'data') data.push(value);
      else if (field === 'id') id = value;
      else if (field === 'event') event = value;
      else if (field === 'retry' && /^\d+$/.test(value)) retry = Number(value);
    }
    if (data.length === 0) continue;
    messages.push({
      ...(id !== undefined ? { id } : {}),
      ...(event !== undefined ? { event } : {}),
      data: data.join('\n'),
    });
  }
  return { messages, ...(retry !== undefined ? { retry } : {}), rest };
}
