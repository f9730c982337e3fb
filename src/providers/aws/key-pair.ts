import { createHash } from "node:crypto";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { EC2Client } from "@aws-sdk/client-ec2";
import { DescribeKeyPairsCommand, ImportKeyPairCommand } from "@aws-sdk/client-ec2";
import ssh2 from "ssh2";
import { awsErrorFacts, toProviderError } from "./aws-error.js";

/**
 * The SSH key spotrun logs in with when the user names none: an ed25519 pair generated once
 * under `<home>/keys/`, imported into each region under a name derived from the public key
 * (so two homes never fight over one name, and a re-import is a no-op).
 */
export interface LocalKeyPair {
  keyName: string;
  privateKeyPath: string;
  publicKey: string;
}

export const keyDir = (home: string) => join(home, "keys");

export async function localKeyPair(home: string): Promise<LocalKeyPair> {
  const dir = keyDir(home);
  const privateKeyPath = join(dir, "aws-ed25519");
  let publicKey: string;
  try {
    publicKey = (await readFile(`${privateKeyPath}.pub`, "utf8")).trim();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const pair = ssh2.utils.generateKeyPairSync("ed25519", { comment: "spotrun" });
    // wx: two processes racing to create the key must not overwrite each other's private half.
    await writeFile(privateKeyPath, pair.private, { mode: 0o600, flag: "wx" }).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== "EEXIST") throw err;
    });
    await writeFile(`${privateKeyPath}.pub`, `${pair.public.trim()}\n`, { mode: 0o644, flag: "wx" }).catch(
      (err: NodeJS.ErrnoException) => {
        if (err.code !== "EEXIST") throw err;
      },
    );
    publicKey = (await readFile(`${privateKeyPath}.pub`, "utf8")).trim();
  }
  return describeKey(privateKeyPath, publicKey);
}

/** The key if spotrun made it already, without making one (what `spotrun setup` looks at). */
export async function existingLocalKeyPair(home: string): Promise<LocalKeyPair | undefined> {
  const privateKeyPath = join(keyDir(home), "aws-ed25519");
  try {
    return describeKey(privateKeyPath, (await readFile(`${privateKeyPath}.pub`, "utf8")).trim());
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw e;
  }
}

function describeKey(privateKeyPath: string, publicKey: string): LocalKeyPair {
  const body = publicKey.split(/\s+/).slice(0, 2).join(" ");
  const keyName = `spotrun-${createHash("sha256").update(body).digest("hex").slice(0, 12)}`;
  return { keyName, privateKeyPath, publicKey };
}

/** Import the local key into the client's region unless it is already there. */
export async function ensureImported(ec2: EC2Client, key: LocalKeyPair, tags: Record<string, string>): Promise<void> {
  try {
    await ec2.send(new DescribeKeyPairsCommand({ KeyNames: [key.keyName] }));
    return;
  } catch (e) {
    if (awsErrorFacts(e).code !== "InvalidKeyPair.NotFound") throw toProviderError(e, "DescribeKeyPairs");
  }
  try {
    await ec2.send(
      new ImportKeyPairCommand({
        KeyName: key.keyName,
        PublicKeyMaterial: Buffer.from(key.publicKey),
        TagSpecifications: [{ ResourceType: "key-pair", Tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })) }],
      }),
    );
  } catch (e) {
    // Another spotrun imported it between our look and our import: the same key, so done.
    if (awsErrorFacts(e).code !== "InvalidKeyPair.Duplicate") throw toProviderError(e, "ImportKeyPair");
  }
}
