/** A tiny XML writer for EC2 responses: elements are written in the order given, text escaped. */
export type XmlValue = string | number | boolean | undefined | null | XmlNode[] | XmlNode;
export interface XmlNode {
  readonly name: string;
  readonly value: XmlValue;
}

export const el = (name: string, value: XmlValue): XmlNode => ({ name, value });

/** `<set><item>…</item>…</set>`: EC2's list shape. */
export const items = (name: string, values: XmlValue[]): XmlNode =>
  el(
    name,
    values.map((v) => el("item", v)),
  );

export function escapeXml(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;").replace(/'/g, "&apos;");
}

export function render(node: XmlNode): string {
  const v = node.value;
  if (v === undefined || v === null) return "";
  if (Array.isArray(v)) return `<${node.name}>${v.map(render).join("")}</${node.name}>`;
  if (typeof v === "object") return `<${node.name}>${render(v)}</${node.name}>`;
  return `<${node.name}>${escapeXml(String(v))}</${node.name}>`;
}

export const EC2_XMLNS = "http://ec2.amazonaws.com/doc/2016-11-15/";

/** The document an EC2 action answers with: `<ActionResponse xmlns=…><requestId/>…</ActionResponse>`. */
export function responseDocument(action: string, requestId: string, body: XmlNode[]): string {
  const inner = [el("requestId", requestId), ...body].map(render).join("");
  return `<?xml version="1.0" encoding="UTF-8"?>\n<${action}Response xmlns="${EC2_XMLNS}">${inner}</${action}Response>`;
}

/** EC2's error document (note: `RequestID`, not `requestId`). */
export function errorDocument(code: string, message: string, requestId: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>${escapeXml(code)}</Code><Message>${escapeXml(
    message,
  )}</Message></Error></Errors><RequestID>${escapeXml(requestId)}</RequestID></Response>`;
}
