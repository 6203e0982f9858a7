import { connect } from "node:net";

// A request written byte for byte on a socket: HTTP clients (fetch, node:http)
// drop fragments and resolve dot segments before sending, which is exactly
// what hostile-target tests must not have done for them.

export interface RawAnswer {
  status: number;
  body: string;
}

export function rawRequest(
  port: number,
  method: string,
  target: string,
  headers: Record<string, string>,
  body?: Uint8Array,
): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const lines = [`${method} ${target} HTTP/1.1`, `Host: 127.0.0.1:${port}`, "Connection: close"];
    if (body !== undefined) lines.push(`Content-Length: ${body.byteLength}`);
    for (const [name, value] of Object.entries(headers)) lines.push(`${name}: ${value}`);
    const socket = connect(port, "127.0.0.1", () => {
      socket.write(`${lines.join("\r\n")}\r\n\r\n`);
      if (body !== undefined) socket.write(body);
    });
    let data = "";
    socket.setEncoding("latin1");
    socket.on("data", (chunk: string) => {
      data += chunk;
    });
    socket.on("error", reject);
    socket.on("end", () => {
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(data)?.[1] ?? 0);
      resolve({ status, body: data.slice(data.indexOf("\r\n\r\n") + 4) });
    });
  });
}
