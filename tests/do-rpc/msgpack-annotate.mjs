// Annotates MessagePack bytes as `msgpackr` with `useRecords: true` writes and reads them (the
// DO-RPC serialization, see docs/do-rpc.md §2): one line per token, offset, bytes, meaning.
//
//   node tests/do-rpc/msgpack-annotate.mjs <hex>
//
// Record extension (msgpackr "structures"), the only non-standard part:
//   d4 72 <id>  <keys array>  <values…>   defines structure <id> (0x40..0x7f) and reads one object
//   <id>        <values…>                 a further object of an already defined structure
// A byte 0x40..0x7f at a value position is a positive fixint only when no structure of that id is
// defined in the current top-level value (definitions do not outlive a top-level value).

const hex2 = (b) => b.toString(16).padStart(2, '0')

export const annotate = (bytes) => {
  const lines = []
  let pos = 0
  let structures = new Map()
  const emit = (start, depth, text) =>
    lines.push(`${String(start).padStart(5)}  ${Array.from(bytes.subarray(start, pos), hex2).join(' ').padEnd(24).slice(0, 24)}  ${'  '.repeat(depth)}${text}`)
  const u = (n) => {
    let v = 0
    for (let i = 0; i < n; i++) v = v * 256 + bytes[pos++]
    return v
  }
  const str = (n) => {
    const s = new TextDecoder().decode(bytes.subarray(pos, pos + n))
    pos += n
    return s
  }
  // returns the decoded value (for keys), emits lines
  const read = (depth, label = '') => {
    const start = pos
    const t = bytes[pos++]
    const L = label ? `${label}: ` : ''
    const container = (n, kind, readItem) => {
      emit(start, depth, `${L}${kind}(${n})`)
      const out = []
      for (let i = 0; i < n; i++) out.push(readItem(i))
      return out
    }
    if (t <= 0x3f) return emit(start, depth, `${L}int ${t}`), t
    if (t <= 0x7f) {
      const s = structures.get(t)
      if (!s) return emit(start, depth, `${L}int ${t} (no structure ${hex2(t)} defined)`), t
      emit(start, depth, `${L}record of structure ${hex2(t)} {${s.join(', ')}}`)
      const o = {}
      for (const k of s) o[k] = read(depth + 1, k)
      return o
    }
    if (t <= 0x8f) {
      const n = t & 0x0f
      emit(start, depth, `${L}map(${n}) (standard map: msgpackr with records reads it as a JS Map!)`)
      const m = {}
      for (let i = 0; i < n; i++) {
        const k = read(depth + 1, 'key')
        m[k] = read(depth + 1, 'value')
      }
      return m
    }
    if (t <= 0x9f) return container(t & 0x0f, 'array', (i) => read(depth + 1, `[${i}]`))
    if (t <= 0xbf) {
      const s = str(t & 0x1f)
      return emit(start, depth, `${L}str ${JSON.stringify(s)}`), s
    }
    if (t >= 0xe0) return emit(start, depth, `${L}int ${t - 256}`), t - 256
    switch (t) {
      case 0xc0:
        return emit(start, depth, `${L}nil`), null
      case 0xc2:
        return emit(start, depth, `${L}false`), false
      case 0xc3:
        return emit(start, depth, `${L}true`), true
      case 0xc4:
      case 0xc5:
      case 0xc6: {
        const n = u(1 << (t - 0xc4))
        pos += n
        return emit(start, depth, `${L}bin(${n})`), null
      }
      case 0xca: {
        const v = new DataView(bytes.buffer, bytes.byteOffset + pos, 4).getFloat32(0)
        pos += 4
        return emit(start, depth, `${L}float32 ${v}`), v
      }
      case 0xcb: {
        const v = new DataView(bytes.buffer, bytes.byteOffset + pos, 8).getFloat64(0)
        pos += 8
        return emit(start, depth, `${L}float64 ${v}`), v
      }
      case 0xcc:
      case 0xcd:
      case 0xce:
      case 0xcf: {
        const v = u(1 << (t - 0xcc))
        return emit(start, depth, `${L}uint ${v}`), v
      }
      case 0xd0:
      case 0xd1:
      case 0xd2:
      case 0xd3: {
        const n = 1 << (t - 0xd0)
        let v = u(n)
        if (v >= 2 ** (8 * n - 1)) v -= 2 ** (8 * n)
        return emit(start, depth, `${L}int ${v}`), v
      }
      case 0xd9:
      case 0xda:
      case 0xdb: {
        const s = str(u(1 << (t - 0xd9)))
        return emit(start, depth, `${L}str ${JSON.stringify(s.length > 60 ? `${s.slice(0, 57)}…` : s)}`), s
      }
      case 0xdc:
      case 0xdd:
        return container(u(t === 0xdc ? 2 : 4), 'array', (i) => read(depth + 1, `[${i}]`))
      case 0xd4: {
        const type = bytes[pos++]
        const data = bytes[pos++]
        if (type === 0x72) {
          emit(start, depth, `${L}record definition: structure ${hex2(data)}, keys follow, then the values`)
          const keysStart = pos
          const nb = bytes[pos]
          let n
          if (nb >= 0x90 && nb <= 0x9f) (n = nb & 0x0f), pos++
          else if (nb === 0xdc) (pos++, (n = u(2)))
          else throw new Error(`unexpected key list at ${pos}`)
          const keys = []
          for (let i = 0; i < n; i++) {
            const b = bytes[pos++]
            if (b >= 0xa0 && b <= 0xbf) keys.push(str(b & 0x1f))
            else if (b === 0xd9) keys.push(str(u(1)))
            else throw new Error(`unexpected key at ${pos - 1}`)
          }
          lines.push(`${String(keysStart).padStart(5)}  ${Array.from(bytes.subarray(keysStart, Math.min(pos, keysStart + 8)), hex2).join(' ').padEnd(24)}  ${'  '.repeat(depth + 1)}keys [${keys.join(', ')}]`)
          structures.set(data, keys)
          const o = {}
          for (const k of keys) o[k] = read(depth + 1, k)
          return o
        }
        if (type === 0x00 && data === 0x00) return emit(start, depth, `${L}undefined (fixext1 type 0)`), undefined
        return emit(start, depth, `${L}fixext1 type ${type} data ${data}`), null
      }
      default:
        throw new Error(`unsupported token ${hex2(t)} at ${start}`)
    }
  }
  while (pos < bytes.length) {
    structures = new Map() // definitions are scoped to one top-level value
    lines.push(`-- top-level value at ${pos}`)
    read(0)
  }
  return lines.join('\n')
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const h = (process.argv[2] ?? '').replace(/[^0-9a-f]/gi, '')
  console.log(annotate(Uint8Array.from(h.match(/../g) ?? [], (x) => parseInt(x, 16))))
}
