import { generateKeyPairSync, sign as rsaSign } from "node:crypto";

/** A GitHub App's key pair for tests (PEM): the fake GitHub checks JWTs against `publicKey`. */
export function appKeys(): { publicKey: string; privateKey: string } {
  return generateKeyPairSync("rsa", {
    modulusLength: 2048,
    publicKeyEncoding: { type: "spki", format: "pem" },
    privateKeyEncoding: { type: "pkcs8", format: "pem" },
  });
}

/** The JWT a GitHub App signs to act as itself (RS256, issued 30 s ago, valid 9 minutes), as GitHub's docs describe. */
export function appJwt(privateKey: string, appId: number): string {
  const b64 = (v: object): string => Buffer.from(JSON.stringify(v)).toString("base64url");
  const now = Math.floor(Date.now() / 1000);
  const data = `${b64({ alg: "RS256", typ: "JWT" })}.${b64({ iat: now - 30, exp: now + 540, iss: appId })}`;
  return `${data}.${rsaSign("RSA-SHA256", Buffer.from(data), privateKey).toString("base64url")}`;
}
