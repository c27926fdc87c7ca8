// Checks a socialcredit receipt in the browser, offline, with only the registry's public key
// (the page /me/receipts; issue #15). No request is made: WebCrypto does the hashing (SHA-256)
// and the Ed25519 signature check (RFC 8032). The checks and their order are those of
// socialcredit.store.tree_head.verify_receipt (the CLI's `audit verify-proof`):
//   1. the receipt's format is "socialcredit-receipt/1";
//   2. the head's key_id (hex SHA-256 of the raw 32-byte public key) is this key's, and the
//      head's signature verifies over the UTF-8 bytes of the canonical JSON (sorted keys, no
//      spaces) of {format: "socialcredit-sth/1", key_id, root_hash, timestamp, tree_size};
//   3. the event's fields hash to event_hash: SHA-256 of
//      "prev_hash|seq|at|type|subject_id|policy_version|SHA-256(payload)" (a tombstoned payload
//      gives the digest it keeps), as socialcredit.store.ledger.event_hash;
//   4. leaf_index is seq - 1, and the inclusion path folds to the head's root as RFC 9162
//      §2.1.3.2: leaf = H(0x00 || event hash), node = H(0x01 || left || right).
// Each failure is shown with the page's message for it (#receipt-messages, in the page's
// language); data-key on the result names it for tests.
"use strict";
(function () {
  const RECEIPT_FORMAT = "socialcredit-receipt/1";
  const HEAD_FORMAT = "socialcredit-sth/1";
  const TOMBSTONE_PREFIX = '{"_tombstone":"';
  const enc = new TextEncoder();

  class Failure extends Error {
    constructor(key, vars) {
      super(key);
      this.key = key;
      this.vars = vars || {};
    }
  }

  function message(key, vars) {
    const li = document.querySelector('#receipt-messages li[data-key="' + key + '"]');
    let text = li ? li.textContent : key;
    for (const [name, value] of Object.entries(vars || {})) {
      text = text.split("{" + name + "}").join(String(value));
    }
    return text;
  }

  function hex(bytes) {
    return Array.from(new Uint8Array(bytes), (b) => b.toString(16).padStart(2, "0")).join("");
  }

  function unhex(text, what) {
    if (typeof text !== "string" || text.length % 2 || /[^0-9a-fA-F]/.test(text)) {
      throw new Failure("malformed", { reason: what + " is not hexadecimal" });
    }
    const out = new Uint8Array(text.length / 2);
    for (let i = 0; i < out.length; i++) out[i] = parseInt(text.substr(i * 2, 2), 16);
    return out;
  }

  function unbase64(text, what) {
    try {
      const bin = atob(String(text).replace(/\s+/g, ""));
      return Uint8Array.from(bin, (c) => c.charCodeAt(0));
    } catch (e) {
      throw new Failure("malformed", { reason: what + " is not base64" });
    }
  }

  async function sha256(bytes) {
    return new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  }

  function concat(...parts) {
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of parts) {
      out.set(p, at);
      at += p.length;
    }
    return out;
  }

  const leafHash = (eventHash) => sha256(concat(Uint8Array.of(0), eventHash));
  const nodeHash = (left, right) => sha256(concat(Uint8Array.of(1), left, right));

  function equal(a, b) {
    return a.length === b.length && a.every((x, i) => x === b[i]);
  }

  async function importKey(pem) {
    const body = pem.replace(/-----(BEGIN|END) PUBLIC KEY-----/g, "");
    if (!/-----BEGIN PUBLIC KEY-----/.test(pem)) {
      throw new Failure("bad_key", { reason: "no -----BEGIN PUBLIC KEY----- line" });
    }
    let der;
    try {
      der = Uint8Array.from(atob(body.replace(/\s+/g, "")), (c) => c.charCodeAt(0));
    } catch (e) {
      throw new Failure("bad_key", { reason: "not base64" });
    }
    let key;
    try {
      key = await crypto.subtle.importKey("spki", der, { name: "Ed25519" }, true, ["verify"]);
    } catch (e) {
      if (e && e.name === "NotSupportedError") throw new Failure("no_webcrypto");
      throw new Failure("bad_key", { reason: (e && e.message) || String(e) });
    }
    const raw = new Uint8Array(await crypto.subtle.exportKey("raw", key));
    return { key, keyId: hex(await sha256(raw)) };
  }

  function need(obj, field, type) {
    if (obj === null || typeof obj !== "object" || !(field in obj)) {
      throw new Failure("malformed", { reason: "missing field " + field });
    }
    const v = obj[field];
    if (type === "int" ? !Number.isSafeInteger(v) : type && typeof v !== type) {
      throw new Failure("malformed", { reason: field + " is not " + (type === "int" ? "an integer" : "a " + type) });
    }
    return v;
  }

  async function verifyHead(head, pub) {
    const keyId = need(head, "key_id", "string");
    if (keyId !== pub.keyId) {
      throw new Failure("other_registry", { theirs: keyId.slice(0, 16), ours: pub.keyId.slice(0, 16) });
    }
    // canonical JSON, keys in sorted order (JSON.stringify keeps insertion order)
    const signed = JSON.stringify({
      format: HEAD_FORMAT, key_id: keyId, root_hash: need(head, "root_hash", "string"),
      timestamp: need(head, "timestamp", "string"), tree_size: need(head, "tree_size", "int"),
    });
    const signature = unbase64(need(head, "signature", "string"), "signature");
    const ok = await crypto.subtle.verify({ name: "Ed25519" }, pub.key, signature, enc.encode(signed));
    if (!ok) throw new Failure("bad_signature");
  }

  async function eventHash(ev) {
    const payload = need(ev, "payload", "string");
    let digest;
    if (payload.startsWith(TOMBSTONE_PREFIX)) {
      digest = String(JSON.parse(payload)._tombstone);
    } else {
      digest = hex(await sha256(enc.encode(payload)));
    }
    const subject = ev.subject_id === null || ev.subject_id === undefined ? "" : String(ev.subject_id);
    const text = [need(ev, "prev_hash", "string"), String(need(ev, "seq", "int")),
      need(ev, "at", "string"), need(ev, "type", "string"), subject,
      ev.policy_version || "", digest].join("|");
    return hex(await sha256(enc.encode(text)));
  }

  // RFC 9162 §2.1.3.2, as socialcredit.store.merkle.verify_inclusion (integers, not 32-bit ops)
  async function verifyInclusion(leaf, index, size, path, root) {
    if (!(index >= 0 && index < size)) throw new Failure("bad_proof");
    let fn = index, sn = size - 1, r = leaf;
    const half = (x) => Math.floor(x / 2);
    for (const p of path) {
      if (sn === 0) throw new Failure("bad_proof");
      if (fn % 2 === 1 || fn === sn) {
        r = await nodeHash(p, r);
        if (fn % 2 === 0) {
          while (fn !== 0 && fn % 2 === 0) {
            fn = half(fn);
            sn = half(sn);
          }
        }
      } else {
        r = await nodeHash(r, p);
      }
      fn = half(fn);
      sn = half(sn);
    }
    if (sn !== 0 || !equal(r, root)) throw new Failure("bad_proof");
  }

  async function verifyReceipt(r, pub) {
    if (r === null || typeof r !== "object" || r.format !== RECEIPT_FORMAT) {
      const format = r !== null && typeof r === "object" ? r.format : undefined;
      throw new Failure("not_receipt", { format: JSON.stringify(format === undefined ? null : format) });
    }
    const head = need(r, "head", "object");
    const ev = need(r, "event", "object");
    await verifyHead(head, pub);
    const digest = await eventHash(ev);
    if (digest !== need(r, "event_hash", "string")) throw new Failure("event_altered");
    const index = need(r, "leaf_index", "int");
    if (index !== ev.seq - 1) throw new Failure("wrong_leaf");
    const path = need(r, "inclusion_path", "object");
    if (!Array.isArray(path)) throw new Failure("malformed", { reason: "inclusion_path is not a list" });
    await verifyInclusion(await leafHash(unhex(digest, "event_hash")), index,
      need(head, "tree_size", "int"), path.map((p) => unhex(p, "inclusion_path")),
      unhex(need(head, "root_hash", "string"), "root_hash"));
    return ev;
  }

  // Returns {ok, key, text}: the outcome of checking the pasted receipt(s) with the pasted key.
  async function check(receiptText, keyText) {
    try {
      if (!receiptText.trim() || !keyText.trim()) throw new Failure("empty");
      let data;
      try {
        data = JSON.parse(receiptText);
      } catch (e) {
        throw new Failure("bad_json", { reason: e.message });
      }
      if (!window.isSecureContext) throw new Failure("insecure");
      if (!(window.crypto && crypto.subtle)) throw new Failure("no_webcrypto");
      const pub = await importKey(keyText);
      const many = data !== null && typeof data === "object" && Array.isArray(data.receipts);
      const receipts = many ? data.receipts : [data];
      const lines = [];
      for (let i = 0; i < receipts.length; i++) {
        let ev;
        try {
          ev = await verifyReceipt(receipts[i], pub);
        } catch (e) {
          if (many && e instanceof Failure) e.vars.prefix = message("receipt_n", { n: i + 1 });
          throw e;
        }
        lines.push(message("valid", { seq: ev.seq, type: ev.type, at: ev.at,
          size: receipts[i].head.tree_size.toLocaleString(), signed: receipts[i].head.timestamp }));
      }
      if (many) lines.push(message("all_valid", { n: receipts.length }));
      return { ok: true, key: "valid", text: lines.join("\n") };
    } catch (e) {
      if (!(e instanceof Failure)) {
        return { ok: false, key: "malformed", text: message("malformed", { reason: String(e) }) };
      }
      return { ok: false, key: e.key, text: (e.vars.prefix || "") + message(e.key, e.vars) };
    }
  }

  function show(outcome) {
    const box = document.getElementById("receipt-result");
    box.textContent = "";
    const p = document.createElement("p");
    p.className = "receipt-outcome " + (outcome.ok ? "count valid" : "error");
    p.dataset.testid = "receipt-outcome";
    p.dataset.key = outcome.key;
    p.textContent = outcome.text;
    box.appendChild(p);
  }

  document.addEventListener("DOMContentLoaded", () => {
    const form = document.getElementById("receipt-check");
    if (!form) return;
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const box = document.getElementById("receipt-result");
      box.dataset.state = "checking";
      show(await check(document.getElementById("receipt-json").value,
        document.getElementById("receipt-key").value));
      box.dataset.state = "done";
    });
    for (const button of document.querySelectorAll("button.use-receipt")) {
      button.addEventListener("click", () => {
        const text = JSON.stringify(JSON.parse(button.dataset.receipt), null, 2);
        document.getElementById("receipt-json").value = text;
        form.requestSubmit();
      });
    }
  });

  window.socialcreditReceiptCheck = check;
})();
