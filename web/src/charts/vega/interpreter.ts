// Vega expressions evaluated from their syntax trees, without `Function`: the dashboard's
// Content-Security-Policy (`script-src 'self'`) forbids the code generation Vega uses by
// default. Adapted from vega-interpreter 2.3.2 (BSD-3-Clause, Copyright (c) 2015-2023, University
// of Washington Interactive Data Lab), written in TypeScript; pass it as the View's `expr` and
// parse with `{ ast: true }`.

type Fn = (...args: unknown[]) => unknown;
type Obj = Record<string, unknown>;

interface Node {
  type: string;
  [k: string]: unknown;
}

const CONSTANTS: Record<string, number> = {
  NaN: NaN,
  E: Math.E,
  LN2: Math.LN2,
  LN10: Math.LN10,
  LOG2E: Math.LOG2E,
  LOG10E: Math.LOG10E,
  PI: Math.PI,
  SQRT1_2: Math.SQRT1_2,
  SQRT2: Math.SQRT2,
  MIN_VALUE: Number.MIN_VALUE,
  MAX_VALUE: Number.MAX_VALUE,
};

const num = (v: unknown): number => v as number;
const BINARY: Record<string, (a: unknown, b: unknown) => unknown> = {
  "*": (a, b) => num(a) * num(b),
  // strings concatenate, as in JavaScript (the casts change no value)
  "+": (a, b) => (a as number) + (b as number),
  "-": (a, b) => num(a) - num(b),
  "/": (a, b) => num(a) / num(b),
  "%": (a, b) => num(a) % num(b),
  ">": (a, b) => num(a) > num(b),
  "<": (a, b) => num(a) < num(b),
  "<=": (a, b) => num(a) <= num(b),
  ">=": (a, b) => num(a) >= num(b),
  "==": (a, b) => a == b,
  "!=": (a, b) => a != b,
  "===": (a, b) => a === b,
  "!==": (a, b) => a !== b,
  "&": (a, b) => num(a) & num(b),
  "|": (a, b) => num(a) | num(b),
  "^": (a, b) => num(a) ^ num(b),
  "<<": (a, b) => num(a) << num(b),
  ">>": (a, b) => num(a) >> num(b),
  ">>>": (a, b) => num(a) >>> num(b),
};

const UNARY: Record<string, (a: unknown) => unknown> = {
  "+": (a) => Number(a),
  "-": (a) => -num(a),
  "~": (a) => ~num(a),
  "!": (a) => !a,
};

const method =
  (m: string, cast?: (v: unknown) => unknown) =>
  (...args: unknown[]): unknown => {
    const obj = (cast ? cast(args[0]) : args[0]) as Obj;
    return (obj[m] as Fn).apply(obj, args.slice(1));
  };

const date = (d: unknown): Date => new Date(d as number);
const ascending = (a: unknown, b: unknown): number => (num(a) < num(b) ? -1 : num(a) > num(b) ? 1 : 0);

const FUNCTIONS: Record<string, Fn> = {
  isNaN: (x) => Number.isNaN(x),
  isFinite: (x) => Number.isFinite(x),
  abs: (x) => Math.abs(num(x)),
  acos: (x) => Math.acos(num(x)),
  asin: (x) => Math.asin(num(x)),
  atan: (x) => Math.atan(num(x)),
  atan2: (y, x) => Math.atan2(num(y), num(x)),
  ceil: (x) => Math.ceil(num(x)),
  cos: (x) => Math.cos(num(x)),
  exp: (x) => Math.exp(num(x)),
  floor: (x) => Math.floor(num(x)),
  hypot: (...x) => Math.hypot(...(x as number[])),
  log: (x) => Math.log(num(x)),
  max: (...x) => Math.max(...(x as number[])),
  min: (...x) => Math.min(...(x as number[])),
  pow: (x, y) => Math.pow(num(x), num(y)),
  random: () => Math.random(),
  round: (x) => Math.round(num(x)),
  sin: (x) => Math.sin(num(x)),
  sqrt: (x) => Math.sqrt(num(x)),
  tan: (x) => Math.tan(num(x)),
  clamp: (a, b, c) => Math.max(num(b), Math.min(num(c), num(a))),
  now: () => Date.now(),
  utc: (...a) => Date.UTC(...(a as [number, number])),
  datetime: (y, m = 0, d = 1, H = 0, M = 0, S = 0, ms = 0) =>
    typeof y === "string" ? new Date(y) : new Date(num(y), num(m), num(d), num(H), num(M), num(S), num(ms)),
  date: (d) => date(d).getDate(),
  day: (d) => date(d).getDay(),
  year: (d) => date(d).getFullYear(),
  month: (d) => date(d).getMonth(),
  hours: (d) => date(d).getHours(),
  minutes: (d) => date(d).getMinutes(),
  seconds: (d) => date(d).getSeconds(),
  milliseconds: (d) => date(d).getMilliseconds(),
  time: (d) => date(d).getTime(),
  timezoneoffset: (d) => date(d).getTimezoneOffset(),
  utcdate: (d) => date(d).getUTCDate(),
  utcday: (d) => date(d).getUTCDay(),
  utcyear: (d) => date(d).getUTCFullYear(),
  utcmonth: (d) => date(d).getUTCMonth(),
  utchours: (d) => date(d).getUTCHours(),
  utcminutes: (d) => date(d).getUTCMinutes(),
  utcseconds: (d) => date(d).getUTCSeconds(),
  utcmilliseconds: (d) => date(d).getUTCMilliseconds(),
  length: (x) => (x as { length: number }).length,
  join: method("join"),
  indexof: method("indexOf"),
  lastindexof: method("lastIndexOf"),
  slice: method("slice"),
  reverse: (x) => (x as unknown[]).slice().reverse(),
  sort: (x) => (x as unknown[]).slice().sort(ascending),
  parseFloat: (x) => parseFloat(String(x)),
  parseInt: (x, r) => parseInt(String(x), r === undefined ? undefined : num(r)),
  upper: (x) => String(x).toUpperCase(),
  lower: (x) => String(x).toLowerCase(),
  substring: method("substring", String),
  split: method("split", String),
  replace: method("replace", String),
  trim: (x) => String(x).trim(),
  encodeURIComponent: (x) => encodeURIComponent(String(x)),
  regexp: (p, f) => new RegExp(p as string, f as string | undefined),
  test: (r, t) => new RegExp(r as string).test(String(t)),
};

const EVENT_FUNCTIONS = ["view", "item", "group", "xy", "x", "y"];
const DISALLOWED_PROPERTIES = new Set(["__proto__", "constructor", "prototype"]);
const DISALLOWED_VALUES = new Set<unknown>([Function, setTimeout, setInterval]);

interface Scope {
  depth: number;
  fn: Record<string, Fn>;
  params: Obj | undefined;
  datum: unknown;
  event: unknown;
  item: unknown;
}

function visit(s: Scope, n: Node): unknown {
  const child = (k: string): Node => n[k] as Node;
  switch (n.type) {
    case "Literal": {
      const regex = n.regex as { pattern: string; flags: string } | undefined;
      const value = n.value;
      if (regex !== undefined && value instanceof RegExp && (value.global || value.sticky)) return new RegExp(regex.pattern, regex.flags);
      return value;
    }
    case "Identifier": {
      const id = n.name as string;
      if (s.depth > 0) return id;
      if (id === "datum") return s.datum;
      if (id === "event") return s.event;
      if (id === "item") return s.item;
      return CONSTANTS[id] ?? s.params?.[`$${id}`];
    }
    case "MemberExpression": {
      const direct = n.computed !== true;
      const o = visit(s, child("object")) as Obj;
      if (direct) s.depth += 1;
      const p = visit(s, child("property")) as string;
      if (direct) s.depth -= 1;
      if (DISALLOWED_PROPERTIES.has(p)) return undefined;
      const v = o[p];
      return DISALLOWED_VALUES.has(v) ? undefined : v;
    }
    case "CallExpression": {
      const args = n.arguments as Node[];
      let name = (child("callee").name as string | undefined) ?? "";
      if (name.startsWith("_")) name = name.slice(1);
      if (name === "if") {
        const [a, b, c] = args as [Node, Node, Node];
        return visit(s, a) ? visit(s, b) : visit(s, c);
      }
      const f = s.fn[name] ?? FUNCTIONS[name];
      if (f === undefined) throw new Error(`Unknown expression function: ${name}`);
      return f.apply(s.fn, args.map((a) => visit(s, a)));
    }
    case "ArrayExpression":
      return (n.elements as Node[]).map((e) => visit(s, e));
    case "BinaryExpression": {
      const op = BINARY[n.operator as string];
      if (op === undefined) throw new Error(`Unknown operator: ${String(n.operator)}`);
      return op(visit(s, child("left")), visit(s, child("right")));
    }
    case "UnaryExpression": {
      const op = UNARY[n.operator as string];
      if (op === undefined) throw new Error(`Unknown operator: ${String(n.operator)}`);
      return op(visit(s, child("argument")));
    }
    case "ConditionalExpression":
      return visit(s, child("test")) ? visit(s, child("consequent")) : visit(s, child("alternate"));
    case "LogicalExpression":
      return n.operator === "&&" ? visit(s, child("left")) && visit(s, child("right")) : visit(s, child("left")) || visit(s, child("right"));
    case "ObjectExpression": {
      const out: Obj = {};
      for (const p of n.properties as { key: Node; value: Node }[]) {
        s.depth += 1;
        const k = visit(s, p.key) as string;
        s.depth -= 1;
        const v = visit(s, p.value);
        if (!DISALLOWED_PROPERTIES.has(k) && !DISALLOWED_VALUES.has(v)) out[k] = v;
      }
      return out;
    }
    default:
      throw new Error(`Unsupported expression node: ${n.type}`);
  }
}

/** Evaluate an expression syntax tree. */
export function interpret(ast: Node, fn: Record<string, Fn>, params?: Obj, datum?: unknown, event?: unknown, item?: unknown): unknown {
  const scoped: Record<string, Fn> = Object.create(fn) as Record<string, Fn>;
  const vega = (event as { vega?: Record<string, Fn> } | undefined)?.vega;
  for (const f of EVENT_FUNCTIONS) scoped[f] = (...args: unknown[]) => (vega?.[f] as Fn).apply(vega, args);
  return visit({ depth: 0, fn: scoped, params, datum, event, item }, ast);
}

interface Item {
  datum?: unknown;
  [k: string]: unknown;
}

function adjustSpatial(item: Item, encode: Record<string, unknown>, swap: boolean): void {
  const n = (k: string): number => (item[k] as number | undefined) ?? 0;
  if (encode.x2 !== undefined) {
    if (encode.x !== undefined) {
      if (swap && n("x") > n("x2")) [item.x, item.x2] = [item.x2, item.x];
      item.width = n("x2") - n("x");
    } else item.x = n("x2") - n("width");
  }
  if (encode.xc !== undefined) item.x = n("xc") - n("width") / 2;
  if (encode.y2 !== undefined) {
    if (encode.y !== undefined) {
      if (swap && n("y") > n("y2")) [item.y, item.y2] = [item.y2, item.y];
      item.height = n("y2") - n("y");
    } else item.y = n("y2") - n("height");
  }
  if (encode.yc !== undefined) item.y = n("yc") - n("height") / 2;
}

interface Ctx {
  functions: Record<string, Fn>;
}
interface Expr {
  ast: Node;
}

/** The `expr` option of a Vega View: every expression interpreted, none compiled. */
export const expressionInterpreter = {
  operator: (ctx: Ctx, expr: Expr) => (_: Obj) => interpret(expr.ast, ctx.functions, _),
  parameter: (ctx: Ctx, expr: Expr) => (datum: unknown, _: Obj) => interpret(expr.ast, ctx.functions, _, datum),
  event: (ctx: Ctx, expr: Expr) => (event: unknown) => interpret(expr.ast, ctx.functions, undefined, undefined, event),
  handler: (ctx: Ctx, expr: Expr) => (_: Obj, event: { item?: { datum?: unknown } }) => interpret(expr.ast, ctx.functions, _, event.item?.datum, event),
  encode: (ctx: Ctx, encode: { marktype: string; channels: Record<string, Expr> }) => {
    const { marktype, channels } = encode;
    const swap = marktype === "group" || marktype === "image" || marktype === "rect";
    return (item: Item, _: Obj): number => {
      let m = 0;
      for (const name in channels) {
        const v = interpret((channels[name] as Expr).ast, ctx.functions, _, item.datum, undefined, item);
        if (item[name] !== v) {
          item[name] = v;
          m = 1;
        }
      }
      if (marktype !== "rule") adjustSpatial(item, channels, swap);
      return m;
    };
  },
};
