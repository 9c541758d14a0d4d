/**
 * A minimal etcd v3 client for the `cluster` benchmark: put and get over the gRPC gateway's JSON
 * API (POST /v3/kv/put, /v3/kv/range; keys and values base64), with node:http and keep-alive
 * agents so a request costs no TCP handshake. Nothing beyond that is needed to load etcd, and a
 * hand-written client over node:http adds no dependency to the project.
 *
 * Benchmark client i talks to member i mod n, as the HeroDB side binds connection i to node
 * i mod n, so both clusters see the same spread of clients over members. A range request without
 * `serializable` is linearizable: the member confirms with the leader (ReadIndex) before it
 * answers, which is the read etcd's clients get by default.
 */
import { Agent, request } from "node:http";

export interface EtcdConn {
  /** The member this connection talks to. */
  endpoint: string;
  put(key: string, value: Buffer): Promise<void>;
  /** Linearizable read; null when the key does not exist. */
  get(key: string): Promise<Buffer | null>;
}

export interface EtcdPool {
  /** The connection for benchmark client `i` (round-robin over the endpoints). */
  client(i: number): EtcdConn;
  close(): void;
}

interface RangeReply {
  kvs?: { value?: string }[];
}

const b64 = (s: string) => Buffer.from(s).toString("base64");

export function connectEtcd(opts: {
  endpoints: string[];
  clients: number;
  /** Per-request bound; a request over it fails (and counts as an error). Default 30 s. */
  timeoutMs?: number;
}): EtcdPool {
  if (opts.endpoints.length === 0) throw new Error("connectEtcd: no endpoints");
  const timeoutMs = opts.timeoutMs ?? 30_000;
  // One agent per member; each closed-loop client has at most one request in flight, so
  // `clients` sockets per member is never the limit.
  const agents = opts.endpoints.map(
    () => new Agent({ keepAlive: true, maxSockets: opts.clients, maxFreeSockets: opts.clients }),
  );

  const post = (member: number, path: string, body: object): Promise<unknown> =>
    new Promise((resolve, reject) => {
      const url = new URL(path, opts.endpoints[member]);
      const payload = JSON.stringify(body);
      const req = request(
        url,
        {
          method: "POST",
          agent: agents[member],
          headers: {
            "content-type": "application/json",
            "content-length": Buffer.byteLength(payload),
          },
          timeout: timeoutMs,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("error", reject);
          res.on("end", () => {
            const text = Buffer.concat(chunks).toString("utf8");
            if (res.statusCode !== 200) {
              reject(new Error(`etcd ${path}: HTTP ${res.statusCode}: ${text.slice(0, 300)}`));
              return;
            }
            try {
              resolve(JSON.parse(text));
            } catch {
              reject(new Error(`etcd ${path}: reply is not JSON: ${text.slice(0, 300)}`));
            }
          });
        },
      );
      req.on("timeout", () => req.destroy(new Error(`etcd ${path}: no reply in ${timeoutMs} ms`)));
      req.on("error", reject);
      req.end(payload);
    });

  const conns = opts.endpoints.map(
    (endpoint, member): EtcdConn => ({
      endpoint,
      async put(key, value) {
        await post(member, "/v3/kv/put", { key: b64(key), value: value.toString("base64") });
      },
      async get(key) {
        const reply = (await post(member, "/v3/kv/range", { key: b64(key) })) as RangeReply;
        const kv = reply.kvs?.[0];
        // The gateway omits empty fields, so an empty value arrives as a kv without `value`.
        return kv === undefined ? null : Buffer.from(kv.value ?? "", "base64");
      },
    }),
  );

  return {
    client: (i) => conns[i % conns.length],
    close: () => {
      for (const a of agents) a.destroy();
    },
  };
}
