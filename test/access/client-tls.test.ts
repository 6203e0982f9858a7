import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { useCluster } from "@conclave/testkit";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { afterAll, describe, expect, it } from "vitest";

// Client TLS by configuration (deploy/nats/tls.conf: certificate paths), with a CA this test creates.

const dir = mkdtempSync(join(tmpdir(), "conclave-tls-"));
const file = (name: string) => join(dir, name);
const openssl = (...args: string[]) => execFileSync("openssl", args, { stdio: "pipe" });
openssl(
  ...["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1"],
  ...["-subj", "/CN=conclave-test-ca", "-keyout", file("ca.key"), "-out", file("ca.pem")],
);
openssl(
  ...["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"],
  ...["-subj", "/CN=127.0.0.1", "-keyout", file("server.key"), "-out", file("server.csr")],
);
writeFileSync(file("san.ext"), "subjectAltName=IP:127.0.0.1,DNS:localhost\n");
openssl(
  ...["x509", "-req", "-in", file("server.csr"), "-CA", file("ca.pem"), "-CAkey", file("ca.key")],
  ...["-CAcreateserial", "-days", "1", "-extfile", file("san.ext"), "-out", file("server.pem")],
);

describe("client TLS, by certificate paths", () => {
  const cluster = useCluster({ tls: { cert: file("server.pem"), key: file("server.key") } });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const opts = () => ({ ...cluster().connectOptions("operator"), maxReconnectAttempts: 0, timeout: 10_000 });

  it("a client that trusts the CA connects over TLS, as a services user, and uses JetStream", async () => {
    const nc = await connect({ ...opts(), tls: { ca: readFileSync(file("ca.pem"), "utf8") } });
    try {
      expect(nc.info?.tls_required).toBe(true);
      expect((await (await jetstreamManager(nc)).getAccountInfo()).limits).toBeDefined();
    } finally {
      await nc.close();
    }
  });

  it("a client without TLS, or that does not trust the CA, is refused", async () => {
    await expect(connect({ ...opts(), tls: null })).rejects.toThrow();
    await expect(connect({ ...opts(), tls: {} })).rejects.toThrow(/certificate|self.signed|verify/i);
  });
});
