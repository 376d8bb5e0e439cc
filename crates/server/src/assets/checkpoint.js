// The checkpoint page: verifies health codes offline, in the page.
//
// Mirrors healthcode-codec's Verifier (prefix, Base45, zlib, COSE_Sign1,
// kid lookup, signature, claims, issuer, key validity, revocation, time,
// DEMO) and healthcode-core's checkpoint::judge, with the same stable
// reason codes; testdata/checkpoint/vectors.json holds both to the same
// answers. Trust list, revocation list and policies are cached in
// localStorage; a service worker caches the page, so it reloads offline.
'use strict';
(function () {
  var PREFIX = 'HCP1:';
  var DCC_PREFIX = 'HC1:';
  var B45 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:';
  var MAX_INFLATED = 256 * 1024;
  var STORE_KEY = 'hc-checkpoint-bundle-v1';
  var COLOURS = ['pending', 'green', 'yellow', 'orange', 'red'];
  var KINDS = ['resident', 'traveller', 'itinerary_card'];
  var COLOUR_ZH = { pending: '待定（黑码）：尚无健康信息', green: '绿码', yellow: '黄码', orange: '橙码', red: '红码' };
  var COLOUR_EN = { pending: 'Pending (black): no health information yet', green: 'Green', yellow: 'Yellow', orange: 'Orange', red: 'Red' };
  var MESSAGES = {
    bad_prefix: ['不是健康码：内容前缀无法识别。', 'Not a health code: the content does not start with a known prefix.'],
    bad_base45: ['码已损坏：不是有效的 Base45 文本。', 'Damaged code: the text is not valid Base45.'],
    bad_compression: ['码已损坏：内容无法解压。', 'Damaged code: the content does not decompress.'],
    bad_cose: ['码已损坏：签名结构格式错误。', 'Damaged code: the signed structure is malformed.'],
    unsupported_algorithm: ['码使用了不被接受的签名算法。', 'The code uses a signature algorithm that is not accepted.'],
    unknown_key: ['签名密钥不在信任列表中。', 'The code was signed by a key that is not in the trust list.'],
    bad_signature: ['伪造或被篡改的码：签名不符。', 'Forged or altered code: the signature does not match.'],
    bad_claims: ['码已损坏：签名内容不完整或格式错误。', 'Damaged code: the signed content is incomplete or malformed.'],
    issuer_mismatch: ['伪造的码：签名密钥属于其他签发机构。', 'Forged code: the signing key belongs to a different issuer.'],
    key_not_valid: ['签发时签名密钥不在有效期内。', 'The signing key was not valid when the code was issued.'],
    revoked: ['此码已被撤销。', 'This code has been revoked.'],
    not_yet_valid: ['此码尚未生效（请检查设备时间）。', 'This code is not valid yet (check the device clock).'],
    expired: ['此码已过期：请持码人刷新。', 'This code has expired: ask the holder to refresh it.'],
    wrong_key_usage: ['签名密钥无权签发此类证书。', 'The signing key may not sign this kind of certificate.'],
    demo_issuer: ['演示码：由演示密钥签发，并非真实健康码。', 'A DEMO code, signed with a demonstration key: not a real health code.'],
    unsupported_format: ['本页面无法离线核验此类证书（请用服务器核验）。', 'This page cannot verify this kind of certificate offline (verify it on the server).']
  };

  function Refusal(reason, detail) { this.reason = reason; this.detail = detail || ''; }

  // ---------------------------------------------------------------- bytes
  function b64(s) {
    var bin = atob(s);
    var out = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  }
  function hex(bytes) {
    var s = '';
    for (var i = 0; i < bytes.length; i++) s += (bytes[i] < 16 ? '0' : '') + bytes[i].toString(16);
    return s;
  }
  function equalBytes(a, b) {
    if (a.length !== b.length) return false;
    for (var i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
    return true;
  }
  function utf8(s) { return new TextEncoder().encode(s); }

  function base45(text) {
    var digit = function (i) {
      var d = B45.indexOf(text[i]);
      if (d < 0) throw new Refusal('bad_base45', 'invalid character at ' + i);
      return d;
    };
    var full = Math.floor(text.length / 3) * 3;
    var out = new Uint8Array(Math.floor(text.length / 3) * 2 + 1);
    var n = 0, i = 0;
    for (; i < full; i += 3) {
      var v = digit(i) + digit(i + 1) * 45 + digit(i + 2) * 2025;
      if (v > 0xFFFF) throw new Refusal('bad_base45', 'overflow at ' + i);
      out[n++] = v >> 8; out[n++] = v & 0xFF;
    }
    var rest = text.length - full;
    if (rest === 2) {
      var w = digit(i) + digit(i + 1) * 45;
      if (w > 0xFF) throw new Refusal('bad_base45', 'overflow at ' + i);
      out[n++] = w;
    } else if (rest !== 0) {
      throw new Refusal('bad_base45', 'dangling character');
    }
    return out.subarray(0, n);
  }

  async function inflate(bytes) {
    try {
      var stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream('deflate'));
      var reader = stream.getReader();
      var chunks = [], total = 0;
      for (;;) {
        var r = await reader.read();
        if (r.done) break;
        total += r.value.length;
        if (total > MAX_INFLATED) { reader.cancel(); throw new Error('too large'); }
        chunks.push(r.value);
      }
      var out = new Uint8Array(total), at = 0;
      chunks.forEach(function (c) { out.set(c, at); at += c.length; });
      return out;
    } catch (e) {
      throw new Refusal('bad_compression', String(e && e.message || e));
    }
  }

  // ----------------------------------------------------------------- CBOR
  // A strict reader for definite-length items; `fail` names the reason a
  // malformed item yields at that layer (bad_cose, bad_claims).
  function Cbor(bytes, fail) { this.b = bytes; this.p = 0; this.fail = fail; }
  Cbor.prototype.err = function (why) { throw new Refusal(this.fail, 'CBOR at byte ' + this.p + ': ' + why); };
  Cbor.prototype.byte = function () {
    if (this.p >= this.b.length) this.err('truncated');
    return this.b[this.p++];
  };
  Cbor.prototype.head = function () {
    var first = this.byte(), major = first >> 5, info = first & 0x1f, arg;
    if (info < 24) arg = info;
    else if (info === 24) arg = this.byte();
    else if (info === 25) arg = this.byte() * 256 + this.byte();
    else if (info === 26) { arg = 0; for (var i = 0; i < 4; i++) arg = arg * 256 + this.byte(); }
    else if (info === 27) {
      arg = 0;
      for (var j = 0; j < 8; j++) arg = arg * 256 + this.byte();
      if (arg > Number.MAX_SAFE_INTEGER) this.err('integer out of range');
    } else this.err(info === 31 ? 'indefinite length' : 'reserved value');
    return { major: major, arg: arg, info: info };
  };
  Cbor.prototype.peekMajor = function () {
    if (this.p >= this.b.length) this.err('truncated');
    return this.b[this.p] >> 5;
  };
  Cbor.prototype.take = function (n) {
    if (this.p + n > this.b.length) this.err('truncated');
    var s = this.b.subarray(this.p, this.p + n);
    this.p += n;
    return s;
  };
  Cbor.prototype.expect = function (major, what) {
    var h = this.head();
    if (h.major !== major) this.err('expected ' + what);
    return h.arg;
  };
  Cbor.prototype.bytes = function () { return this.take(this.expect(2, 'bytes')); };
  Cbor.prototype.text = function () {
    var raw = this.take(this.expect(3, 'text'));
    try { return new TextDecoder('utf-8', { fatal: true }).decode(raw); } catch (e) { this.err('bad UTF-8'); }
  };
  Cbor.prototype.int = function () {
    var h = this.head();
    if (h.major === 0) return h.arg;
    if (h.major === 1) return -1 - h.arg;
    this.err('expected integer');
  };
  Cbor.prototype.uint = function () { return this.expect(0, 'unsigned'); };
  Cbor.prototype.bool = function () {
    var b = this.byte();
    if (b === 0xf4) return false;
    if (b === 0xf5) return true;
    this.err('expected boolean');
  };
  Cbor.prototype.skip = function (depth) {
    depth = depth || 0;
    if (depth > 32) this.err('too deep');
    var h = this.head(), i;
    switch (h.major) {
      case 2: case 3: this.take(h.arg); break;
      case 4: for (i = 0; i < h.arg; i++) this.skip(depth + 1); break;
      case 5: for (i = 0; i < 2 * h.arg; i++) this.skip(depth + 1); break;
      case 6: this.skip(depth + 1); break;
      case 7: if (h.info === 24 && h.arg < 32) this.err('bad simple'); break;
    }
  };
  Cbor.prototype.finish = function () { if (this.p !== this.b.length) this.err('trailing bytes'); };
  Cbor.prototype.isInt = function () { var m = this.peekMajor(); return m === 0 || m === 1; };
  // Reads an integer map key, or skips a non-integer key and its value.
  Cbor.prototype.intKey = function () {
    if (this.isInt()) return this.int();
    this.skip(); this.skip();
    return null;
  };

  function writeHead(out, major, n) {
    if (n < 24) out.push((major << 5) | n);
    else if (n < 256) out.push((major << 5) | 24, n);
    else if (n < 65536) out.push((major << 5) | 25, n >> 8, n & 0xff);
    else out.push((major << 5) | 26, (n >>> 24) & 0xff, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff);
  }
  function sigStructure(protectedBytes, payload) {
    var out = [];
    writeHead(out, 4, 4);
    var ctx = utf8('Signature1');
    writeHead(out, 3, ctx.length); ctx.forEach(function (b) { out.push(b); });
    writeHead(out, 2, protectedBytes.length);
    var head = new Uint8Array(out.length + protectedBytes.length + 1 + 9);
    head.set(out, 0);
    head.set(protectedBytes, out.length);
    var n = out.length + protectedBytes.length;
    head[n++] = 0x40; // external_aad: empty bytes
    var ph = [];
    writeHead(ph, 2, payload.length);
    head.set(ph, n); n += ph.length;
    var all = new Uint8Array(n + payload.length);
    all.set(head.subarray(0, n), 0);
    all.set(payload, n);
    return all;
  }

  function readHeaderMap(r) {
    var n = r.expect(5, 'map'), alg = null, kid = null;
    for (var i = 0; i < n; i++) {
      if (r.isInt()) {
        var label = r.int();
        if (label === 1) { if (alg !== null) r.err('duplicate alg'); alg = r.int(); }
        else if (label === 4) { if (kid !== null) r.err('duplicate kid'); kid = r.bytes(); }
        else r.skip();
      } else { r.skip(); r.skip(); }
    }
    return { alg: alg, kid: kid };
  }

  function parseSign1(bytes) {
    var r = new Cbor(bytes, 'bad_cose');
    if (r.peekMajor() === 6) {
      var tag = r.head().arg;
      if (tag === 61 && r.peekMajor() === 6) tag = r.head().arg;
      else if (tag === 61) tag = 18;
      if (tag !== 18) r.err('wrong tag ' + tag);
    }
    if (r.expect(4, 'array') !== 4) r.err('not 4 elements');
    var prot = r.bytes();
    var ph = { alg: null, kid: null };
    if (prot.length) { var pr = new Cbor(prot, 'bad_cose'); ph = readHeaderMap(pr); pr.finish(); }
    var uh = readHeaderMap(r);
    if (r.peekMajor() === 7) r.err('detached payload');
    var payload = r.bytes();
    var signature = r.bytes();
    r.finish();
    return {
      protected: prot, payload: payload, signature: signature,
      alg: ph.alg !== null ? ph.alg : uh.alg,
      algUnprotected: ph.alg === null && uh.alg !== null,
      kid: ph.kid !== null ? ph.kid : uh.kid,
      kidUnprotected: ph.kid === null && uh.kid !== null
    };
  }

  function decodeClaims(bytes) {
    var r = new Cbor(bytes, 'bad_claims');
    var n = r.expect(5, 'map'), c = {}, seen = {};
    var once = function (name) { if (seen[name]) r.err('claim ' + name + ' appears twice'); seen[name] = true; };
    var text = function (name) { var s = r.text(); if (utf8(s).length > 128) r.err(name + ' too long'); return s; };
    for (var i = 0; i < n; i++) {
      var key = r.intKey();
      if (key === null) continue;
      if (key === 1) { once('iss'); c.issuer = text('iss'); }
      else if (key === 4) { once('exp'); c.expires_at = r.int(); }
      else if (key === 6) { once('iat'); c.issued_at = r.int(); }
      else if (key === 7) { once('cti'); c.code_id = r.bytes(); }
      else if (key === -65537) {
        once('hc');
        var m = r.expect(5, 'map');
        for (var j = 0; j < m; j++) {
          var k = r.intKey();
          if (k === null) continue;
          if (k === 1) { once('colour'); var v = r.uint(); if (v >= COLOURS.length) r.err('unknown colour'); c.colour = COLOURS[v]; }
          else if (k === 2) { once('name'); c.masked_name = text('name'); }
          else if (k === 3) { once('id'); c.masked_id = text('id'); }
          else if (k === 4) { once('kind'); var w = r.uint(); if (w >= KINDS.length) r.err('unknown kind'); c.kind = KINDS[w]; }
          else if (k === 5) { once('status_as_of'); c.status_as_of = r.int(); }
          else if (k === 6) { once('demo'); c.demo = r.bool(); }
          else r.skip();
        }
      } else r.skip();
    }
    r.finish();
    var need = ['code_id', 'colour', 'masked_name', 'masked_id', 'kind', 'status_as_of', 'issued_at', 'expires_at', 'issuer'];
    need.forEach(function (f) { if (c[f] === undefined) r.err('claim ' + f + ' is missing'); });
    if (c.code_id.length !== 16) r.err('cti is not 16 bytes');
    if (c.expires_at < c.issued_at) r.err('expiry precedes issuance');
    c.demo = c.demo === true;
    return c;
  }

  // ----------------------------------------------------------------- keys
  async function importKey(alg, spki) {
    if (alg === 'EdDSA') return crypto.subtle.importKey('spki', spki, { name: 'Ed25519' }, false, ['verify']);
    if (alg === 'ES256') return crypto.subtle.importKey('spki', spki, { name: 'ECDSA', namedCurve: 'P-256' }, false, ['verify']);
    throw new Error('unsupported algorithm ' + alg);
  }
  async function verifySig(key, data, signature) {
    try {
      if (key.alg === 'EdDSA') return await crypto.subtle.verify({ name: 'Ed25519' }, key.crypto, signature, data);
      return await crypto.subtle.verify({ name: 'ECDSA', hash: 'SHA-256' }, key.crypto, signature, data);
    } catch (e) { return false; }
  }
  async function sha256(bytes) { return new Uint8Array(await crypto.subtle.digest('SHA-256', bytes)); }
  var COSE_ALG = { '-8': 'EdDSA', '-7': 'ES256', '-37': 'PS256' };

  // A key description from a trust list → a usable key, checked as the
  // Rust KeyDescription::public_key checks it (kid and alg match the key).
  async function describeKey(d) {
    var spki = b64(d.public_key);
    var alg = d.alg === 'EdDSA' || d.alg.toLowerCase() === 'ed25519' ? 'EdDSA' : (d.alg.toUpperCase() === 'ES256' ? 'ES256' : null);
    if (!alg) throw new Error('trust list: unsupported algorithm ' + d.alg);
    var digest = await sha256(spki);
    var kid = digest.subarray(0, 8);
    if (hex(b64(d.kid)) !== hex(kid)) throw new Error('trust list: kid does not match the key of ' + d.issuer);
    var from = Date.parse(d.valid_from) / 1000, to = Date.parse(d.valid_to) / 1000;
    if (!(to >= from)) throw new Error('trust list: bad validity for ' + d.issuer);
    if (!String(d.issuer || '').trim()) throw new Error('trust list: empty issuer');
    return {
      issuer: d.issuer, alg: alg, kid: kid, fingerprint: hex(digest), demo: d.demo === true,
      valid_from: Math.floor(from), valid_to: Math.floor(to), crypto: await importKey(alg, spki)
    };
  }

  // A signed JSON document (trust or revocation list).
  function openDocument(text) {
    var doc = JSON.parse(text);
    if (typeof doc.protected !== 'string' || typeof doc.payload !== 'string' || typeof doc.signature !== 'string') {
      throw new Error('not a signed document');
    }
    var prot = b64(doc.protected);
    var r = new Cbor(prot, 'bad_cose');
    var h = readHeaderMap(r);
    r.finish();
    return { protected: prot, alg: COSE_ALG[String(h.alg)], kid: h.kid, payload: doc.payload, signature: b64(doc.signature) };
  }
  async function documentVerifies(doc, key) {
    if (key.alg !== doc.alg || !equalBytes(key.kid, doc.kid)) return false;
    return verifySig(key, sigStructure(doc.protected, utf8(doc.payload)), doc.signature);
  }

  // Builds the trust store from a bundle: every trust list's signature
  // and publisher pin, then the revocation list's signature.
  async function buildTrust(bundle, pins) {
    var keys = [], signers = [], lists = [];
    for (var i = 0; i < bundle.trust_lists.length; i++) {
      var doc = openDocument(bundle.trust_lists[i]);
      var list = JSON.parse(doc.payload);
      if (list.kind !== 'healthcode-trust-list') throw new Error('not a trust list: ' + list.kind);
      var publisher = await describeKey(list.publisher);
      if (!(await documentVerifies(doc, publisher))) throw new Error('trust list signature does not verify');
      if (pins.indexOf(publisher.fingerprint) < 0) throw new Error('trust list publisher ' + publisher.fingerprint + ' is not pinned');
      signers.push(publisher);
      for (var j = 0; j < list.entries.length; j++) {
        var k = await describeKey(list.entries[j]);
        keys.push(k); signers.push(k);
      }
      lists.push({ issued_at: list.issued_at, publisher: list.publisher.issuer });
    }
    var revoked = {}, revocation = null;
    if (bundle.revocations) {
      var rdoc = openDocument(bundle.revocations);
      var signer = null;
      for (var s = 0; s < signers.length; s++) {
        if (await documentVerifies(rdoc, signers[s])) { signer = signers[s]; break; }
      }
      if (!signer) throw new Error('revocation list is not signed by a trusted key');
      revocation = JSON.parse(rdoc.payload);
      if (revocation.kind !== 'healthcode-revocation-list') throw new Error('not a revocation list');
      revocation.revoked.forEach(function (id) {
        if (!/^[0-9a-fA-F]{32}$/.test(id.trim())) throw new Error('bad code id in revocation list');
        revoked[id.trim().toLowerCase()] = true;
      });
    }
    return { keys: keys, revoked: revoked, lists: lists, revocation: revocation };
  }

  // ------------------------------------------------------------- verifier
  // Resolves {ok: true, code} or {ok: false, reason, detail}.
  async function verifyCode(trust, input, now, options) {
    try {
      return { ok: true, code: await verifyOrThrow(trust, input, now, options) };
    } catch (e) {
      if (e instanceof Refusal) return { ok: false, reason: e.reason, detail: e.detail, code: e.code || null };
      return { ok: false, reason: 'bad_cose', detail: String(e && e.message || e) };
    }
  }

  async function verifyOrThrow(trust, input, now, options) {
    input = String(input).trim();
    if (input.indexOf(PREFIX) !== 0) {
      if (input.indexOf(DCC_PREFIX) === 0) throw new Refusal('unsupported_format', 'EU DCC');
      throw new Refusal('bad_prefix', 'expected ' + PREFIX);
    }
    var cose = await inflate(base45(input.slice(PREFIX.length)));
    var s = parseSign1(cose);
    if (s.alg === null) throw new Refusal('bad_cose', 'no algorithm in the COSE header');
    var alg = COSE_ALG[String(s.alg)];
    if (!alg) throw new Refusal('unsupported_algorithm', 'COSE algorithm ' + s.alg);
    if (alg === 'PS256' || s.kidUnprotected || s.algUnprotected) {
      throw new Refusal('bad_cose', 'alg and kid must be protected, EdDSA or ES256');
    }
    if (s.kid === null) throw new Refusal('unknown_key', 'the code names no key id');
    var candidates = trust.keys.filter(function (k) { return equalBytes(k.kid, s.kid); });
    if (!candidates.length) throw new Refusal('unknown_key', 'no trusted key with kid ' + hex(s.kid));
    var data = sigStructure(s.protected, s.payload), signer = null;
    for (var i = 0; i < candidates.length && !signer; i++) {
      if (candidates[i].alg === alg && await verifySig(candidates[i], data, s.signature)) signer = candidates[i];
    }
    if (!signer) throw new Refusal('bad_signature', alg + ' signature does not verify');
    var c = decodeClaims(s.payload);
    var code = {
      issuer: signer.issuer, issued_at: c.issued_at, expires_at: c.expires_at, colour: c.colour,
      kind: c.kind, masked_name: c.masked_name, masked_id: c.masked_id, code_id: hex(c.code_id),
      demo: signer.demo || c.demo
    };
    var skew = options.clock_skew;
    var fail = function (reason, detail) { var r = new Refusal(reason, detail); r.code = code; throw r; };
    if (c.issuer !== signer.issuer) fail('issuer_mismatch', 'code says ' + c.issuer + ', key belongs to ' + signer.issuer);
    if (c.issued_at < signer.valid_from || c.issued_at > signer.valid_to) fail('key_not_valid', 'issued outside the key validity');
    if (trust.revoked[code.code_id]) fail('revoked', 'code id ' + code.code_id);
    if (now + skew < c.issued_at) fail('not_yet_valid', 'issued in the future');
    if (now - skew > c.expires_at) fail('expired', 'expired');
    if (code.demo && !options.accept_demo) fail('demo_issuer', 'DEMO key');
    return code;
  }

  // ----------------------------------------------------------- the verdict
  // Mirrors healthcode_core::checkpoint::judge.
  function reason(code, zh, en) { return { code: code, zh: zh, en: en }; }
  var RANK = { pass: 0, restrict: 1, deny: 2 };
  function worse(a, b) { return RANK[a] >= RANK[b] ? a : b; }
  function scanOf(result) {
    if (!result.ok) {
      var m = MESSAGES[result.reason] || [result.reason, result.reason];
      return { refused: true, reason: result.reason, zh: m[0], en: m[1] };
    }
    return { refused: false, colour: result.code.colour, kind: result.code.kind };
  }

  function judge(policy, primary, extras, now, skew) {
    var reasons = [];
    if (primary.refused) return { verdict: 'deny', reasons: [reason(primary.reason, primary.zh, primary.en)] };
    if (primary.kind === 'itinerary_card') {
      return { verdict: 'deny', reasons: [reason('not_a_health_code', '这是行程卡，不是健康码：请出示健康码。', 'This is an itinerary card, not a health code: ask for the health code.')] };
    }
    var colour = primary.colour, outcome;
    if (policy.pass.indexOf(colour) >= 0) outcome = 'pass';
    else if (policy.restrict.indexOf(colour) >= 0) outcome = 'restrict';
    else outcome = 'deny';
    if (outcome === 'pass') reasons.push(reason('colour_pass', COLOUR_ZH[colour] + '：通行。', COLOUR_EN[colour] + ': may pass.'));
    else if (outcome === 'restrict') {
      var r = policy.restriction || { zh: '按限制措施通行。', en: 'Restricted entry.' };
      reasons.push(reason('colour_restrict', COLOUR_ZH[colour] + '：' + r.zh, COLOUR_EN[colour] + ': ' + r.en));
    } else reasons.push(reason('colour_deny', COLOUR_ZH[colour] + '：不得通行。', COLOUR_EN[colour] + ': may not pass.'));
    extras.forEach(function (e) {
      if (e.refused) reasons.push(reason(e.reason, '附加的码未通过核验：' + e.zh, 'An additional code failed verification: ' + e.en));
    });
    var unmet = policy.unmet === 'restrict' ? 'restrict' : 'deny';
    var req = policy.requires || {};
    if (req.negative_test_within_hours) {
      var hours = req.negative_test_within_hours, oldest = now - hours * 3600;
      var tests = extras.filter(function (e) { return e.test; });
      var fresh = tests.some(function (e) { return e.negative && e.sampled_at !== null && e.sampled_at >= oldest && e.sampled_at <= now + skew; });
      if (!fresh) {
        if (tests.some(function (e) { return !e.negative; })) {
          reasons.push(reason('positive_test', '附加的检测结果为阳性。', 'The test shown is positive.'));
          outcome = worse(outcome, 'deny');
        } else if (tests.length) {
          reasons.push(reason('test_too_old', '阴性检测结果超过 ' + hours + ' 小时或采样时间不明。', 'The negative test was sampled more than ' + hours + ' h ago, or when is unknown.'));
          outcome = worse(outcome, unmet);
        } else {
          reasons.push(reason('negative_test_required', '须出示 ' + hours + ' 小时内的阴性检测证明。', 'A negative test from the last ' + hours + ' h is required.'));
          outcome = worse(outcome, unmet);
        }
      }
    }
    if (req.green_itinerary_card) {
      var cards = extras.filter(function (e) { return !e.refused && !e.test && e.kind === 'itinerary_card'; }).map(function (e) { return e.colour; });
      if (cards.indexOf('green') < 0) {
        if (cards.length) reasons.push(reason('itinerary_card_not_green', '行程卡为' + COLOUR_ZH[cards[0]] + '，须为绿色。', 'The itinerary card is ' + cards[0] + '; it must be green.'));
        else reasons.push(reason('itinerary_card_required', '须出示绿色行程卡。', 'A green itinerary card is required.'));
        outcome = worse(outcome, unmet);
      }
    }
    if (outcome !== 'pass') {
      // Stable sort: the colour's pass reason goes last.
      reasons = reasons.filter(function (x) { return x.code !== 'colour_pass'; })
        .concat(reasons.filter(function (x) { return x.code === 'colour_pass'; }));
    }
    return { verdict: outcome, reasons: reasons };
  }

  // Verifies and judges, answering what POST /api/verify answers.
  async function check(trust, options, policy, code, extras, now) {
    var primary = await verifyCode(trust, code, now, options);
    var extraResults = [];
    for (var i = 0; i < extras.length; i++) extraResults.push(await verifyCode(trust, extras[i], now, options));
    var v = judge(policy, scanOf(primary), extraResults.map(scanOf), now, options.clock_skew);
    var shown = primary.ok ? primary.code : null;
    return {
      verdict: v.verdict, policy: policy.id,
      colour: shown ? shown.colour : null, kind: shown ? shown.kind : null,
      masked_name: shown ? shown.masked_name : null, masked_id: shown ? shown.masked_id : null,
      issuer: shown ? shown.issuer : null,
      expires_at: shown ? new Date(shown.expires_at * 1000).toISOString().replace('.000Z', 'Z') : null,
      demo: shown ? shown.demo : false,
      code_id: shown ? shown.code_id : (primary.code ? primary.code.code_id : null),
      reasons: v.reasons
    };
  }

  // Runs a vector file (testdata/checkpoint/vectors.json) and returns the
  // cases whose answer differs.
  async function runVectors(vectors) {
    var trust = await buildTrust(vectors.bundle, vectors.bundle.pins);
    var options = { clock_skew: vectors.bundle.clock_skew, accept_demo: vectors.bundle.accept_demo };
    var policies = {};
    vectors.bundle.policies.forEach(function (p) { policies[p.id] = p.policy; });
    var failures = [], checked = 0;
    for (var i = 0; i < vectors.cases.length; i++) {
      var c = vectors.cases[i];
      var caseOptions = { clock_skew: options.clock_skew, accept_demo: c.accept_demo === undefined ? options.accept_demo : c.accept_demo };
      var got = await check(trust, caseOptions, policies[c.policy], c.code, c.extra_codes || [], vectors.now);
      var want = c.expected;
      var same = got.verdict === want.verdict && got.colour === want.colour && got.kind === want.kind &&
        got.masked_name === want.masked_name && got.masked_id === want.masked_id && got.issuer === want.issuer &&
        got.demo === want.demo && got.expires_at === want.expires_at &&
        JSON.stringify(got.reasons.map(function (r) { return r.code; })) === JSON.stringify(want.reasons.map(function (r) { return r.code; }));
      checked++;
      if (!same) failures.push({ name: c.name, got: got, want: want });
    }
    return { checked: checked, failures: failures };
  }

  var api = { buildTrust: buildTrust, verifyCode: verifyCode, judge: judge, check: check, runVectors: runVectors };
  window.hcCheckpoint = api;

  // ------------------------------------------------------------------ page
  var root = document.getElementById('checkpoint');
  if (!root) return;
  var ui = JSON.parse(document.getElementById('checkpoint-ui').textContent);
  var lang = root.getAttribute('data-lang');
  var pins = JSON.parse(root.getAttribute('data-pins'));
  var el = function (id) { return document.getElementById(id); };
  var state = { trust: null, bundle: null, options: null, stored: null };

  function t(key) { return ui[key] || key; }
  function say(node, text) { node.textContent = text; }
  function loc(r) { return lang === 'zh' ? r.zh : r.en; }

  function showNet() {
    var online = navigator.onLine;
    var n = el('net');
    n.className = 'pill ' + (online ? 'online' : 'offline');
    say(n, online ? t('online') : t('offline'));
  }

  function showAge() {
    if (!state.bundle) return;
    var fetched = Date.parse(state.stored.fetched);
    var mins = Math.max(0, Math.round((Date.now() - fetched) / 60000));
    var age = mins < 60 ? mins + ' ' + t('minutes') : Math.round(mins / 60) + ' ' + t('hours');
    var issued = state.trust.revocation ? state.trust.revocation.issued_at : '';
    say(el('trust-age'), t('trust_age') + ' ' + age + ' · ' + t('keys') + ' ' + state.trust.keys.length +
      ' · ' + t('revoked_count') + ' ' + Object.keys(state.trust.revoked).length + (issued ? ' · ' + issued : ''));
    el('trust-age').className = 'pill ' + (mins > 24 * 60 ? 'stale' : 'fresh');
  }

  function fillPolicies() {
    var select = el('policy');
    var chosen = select.value || localStorage.getItem('hc-checkpoint-policy') || state.bundle.default_policy;
    select.innerHTML = '';
    state.bundle.policies.forEach(function (p) {
      var o = document.createElement('option');
      o.value = p.id; o.textContent = loc(p.name);
      select.appendChild(o);
    });
    if (state.bundle.policies.some(function (p) { return p.id === chosen; })) select.value = chosen;
  }

  async function install(bundle, fetched) {
    var trust = await buildTrust(bundle, pins);
    state.trust = trust;
    state.bundle = bundle;
    state.options = { clock_skew: bundle.clock_skew, accept_demo: bundle.accept_demo };
    state.stored = { bundle: bundle, fetched: fetched };
    fillPolicies();
    showAge();
    root.setAttribute('data-ready', 'true');
  }

  async function loadCached() {
    var raw = localStorage.getItem(STORE_KEY);
    if (!raw) return false;
    try {
      var stored = JSON.parse(raw);
      await install(stored.bundle, stored.fetched);
      return true;
    } catch (e) {
      say(el('status'), t('cache_bad') + ' ' + e.message);
      return false;
    }
  }

  // Fetches fresh lists; a bundle that fails its checks is never stored.
  async function refresh() {
    try {
      var r = await fetch(root.getAttribute('data-bundle'), { cache: 'no-store' });
      if (!r.ok) throw new Error('HTTP ' + r.status);
      var bundle = await r.json();
      var fetched = new Date().toISOString();
      await install(bundle, fetched);
      localStorage.setItem(STORE_KEY, JSON.stringify({ bundle: bundle, fetched: fetched }));
      say(el('status'), '');
    } catch (e) {
      if (!state.trust) say(el('status'), t('no_lists') + ' (' + e.message + ')');
    }
  }

  function policyNow() {
    var id = el('policy').value;
    var p = state.bundle.policies.filter(function (x) { return x.id === id; })[0] || state.bundle.policies[0];
    return p.policy;
  }

  function render(result) {
    var box = el('result');
    box.hidden = false;
    box.className = 'verdict ' + result.verdict;
    box.setAttribute('data-verdict', result.verdict);
    say(el('verdict-word'), t('verdict_' + result.verdict));
    var colour = el('verdict-colour');
    if (result.colour) {
      colour.hidden = false;
      colour.className = 'colour-chip c-' + result.colour;
      say(colour, lang === 'zh' ? COLOUR_ZH[result.colour] : COLOUR_EN[result.colour]);
    } else colour.hidden = true;
    el('verdict-demo').hidden = !result.demo;
    var rows = [
      [t('name'), result.masked_name], [t('id'), result.masked_id], [t('issuer'), result.issuer],
      [t('kind'), result.kind ? t('kind_' + result.kind) : null], [t('expires'), result.expires_at],
      [t('code_id'), result.code_id]
    ];
    var dl = el('verdict-details');
    dl.innerHTML = '';
    rows.forEach(function (row) {
      if (!row[1]) return;
      var dt = document.createElement('dt'); dt.textContent = row[0];
      var dd = document.createElement('dd'); dd.textContent = row[1];
      dl.appendChild(dt); dl.appendChild(dd);
    });
    var ul = el('verdict-reasons');
    ul.innerHTML = '';
    result.reasons.forEach(function (r) {
      var li = document.createElement('li');
      li.textContent = loc(r);
      li.setAttribute('data-code', r.code);
      ul.appendChild(li);
    });
    box.scrollIntoView({ block: 'start' });
  }

  async function verifyText(text) {
    if (!state.trust) { say(el('status'), t('no_lists')); return; }
    var extras = el('extra-input').value.split(/\n+/).map(function (s) { return s.trim(); }).filter(Boolean);
    var now = Math.floor(Date.now() / 1000);
    var result = await check(state.trust, state.options, policyNow(), text, extras, now);
    render(result);
    return result;
  }
  api.verifyText = verifyText;

  el('verify-btn').addEventListener('click', function () { verifyText(el('code-input').value); });
  el('policy').addEventListener('change', function () { localStorage.setItem('hc-checkpoint-policy', el('policy').value); });
  window.addEventListener('online', function () { showNet(); refresh(); });
  window.addEventListener('offline', showNet);
  setInterval(function () { showNet(); showAge(); }, 30000);

  // ---------------------------------------------------------- scanning
  var detector = null;
  if ('BarcodeDetector' in window) {
    try { detector = new window.BarcodeDetector({ formats: ['qr_code'] }); } catch (e) { detector = null; }
  }
  async function decodeFrame(source, width, height) {
    if (detector) {
      try {
        var found = await detector.detect(source);
        if (found.length) return found[0].rawValue;
      } catch (e) { /* fall back to jsQR */ }
    }
    if (!window.jsQR) return null;
    var canvas = el('frame');
    canvas.width = width; canvas.height = height;
    var ctx = canvas.getContext('2d', { willReadFrequently: true });
    ctx.drawImage(source, 0, 0, width, height);
    var img = ctx.getImageData(0, 0, width, height);
    var qr = window.jsQR(img.data, width, height, { inversionAttempts: 'attemptBoth' });
    return qr ? qr.data : null;
  }

  var scanning = false, lastText = '', lastAt = 0;
  el('camera-btn').addEventListener('click', async function () {
    var video = el('video');
    if (scanning) { stopCamera(); return; }
    try {
      var stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: 'environment' }, audio: false });
      video.srcObject = stream;
      video.hidden = false;
      await video.play();
      scanning = true;
      say(el('camera-btn'), t('camera_stop'));
      loop();
    } catch (e) {
      say(el('status'), t('camera_failed') + ' ' + (e && e.name || e));
    }
  });
  function stopCamera() {
    var video = el('video');
    scanning = false;
    if (video.srcObject) video.srcObject.getTracks().forEach(function (tr) { tr.stop(); });
    video.srcObject = null;
    video.hidden = true;
    say(el('camera-btn'), t('camera_start'));
  }
  async function loop() {
    if (!scanning) return;
    var video = el('video');
    if (video.readyState >= 2) {
      var w = video.videoWidth, h = video.videoHeight, scale = Math.min(1, 640 / Math.max(w, h));
      var text = await decodeFrame(video, Math.round(w * scale), Math.round(h * scale));
      // The same code is verified again only after 3 s (no flicker).
      if (text && (text !== lastText || Date.now() - lastAt > 3000)) {
        lastText = text; lastAt = Date.now();
        el('code-input').value = text;
        await verifyText(text);
      }
    }
    setTimeout(loop, 150);
  }

  el('image-input').addEventListener('change', async function (ev) {
    var file = ev.target.files && ev.target.files[0];
    if (!file) return;
    try {
      var bitmap = await createImageBitmap(file);
      var scale = Math.min(1, 1200 / Math.max(bitmap.width, bitmap.height));
      var text = await decodeFrame(bitmap, Math.round(bitmap.width * scale), Math.round(bitmap.height * scale));
      if (!text) { say(el('status'), t('no_qr')); return; }
      el('code-input').value = text;
      say(el('status'), '');
      await verifyText(text);
    } catch (e) {
      say(el('status'), t('bad_image') + ' ' + (e && e.message || e));
    }
  });

  // ------------------------------------------------------------ start-up
  showNet();
  if ('serviceWorker' in navigator) {
    navigator.serviceWorker.register('/checkpoint-sw.js', { scope: '/checkpoint' }).catch(function (e) {
      say(el('status'), t('offline_unavailable') + ' ' + e.message);
    });
  }
  loadCached().then(function () { if (navigator.onLine) return refresh(); });
})();
