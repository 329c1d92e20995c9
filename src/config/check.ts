/**
 * Stages 3–4 of the config pipeline: check keywords against the tables of src/config/keywords.ts,
 * then apply keepalived's defaults, ranges and cross-checks block by block, in file order (trackers
 * must be defined before the instances that track them, as in keepalived). Produces mutable model
 * objects, handed out through the readonly types of src/config/model.ts.
 */
import { hostname } from 'node:os';
import { type Diagnostic, DiagnosticSink, KaClass, type SrcPos } from './diagnostics.js';
import type { ConfigErrorCode } from './errors.js';
import { type CHECKERS, GLOBAL_DEFS, type Kw, SHARED_GLOBALS, type Table, TOP_LEVEL } from './keywords.js';
import type {
  AddressSpec,
  BfdInstance,
  Checker,
  Command,
  Family,
  FifoSpec,
  GarpTiming,
  GlobalDefs,
  KeepalivedConfig,
  LbKind,
  NotifyScripts,
  RealServer,
  RouteSpec,
  RuleSpec,
  SyncGroup,
  TrackFile,
  Tracking,
  TrackProcess,
  TrackRef,
  UnicastPeer,
  UrlModel,
  VirtualServer,
  VirtualServerGroup,
  VrrpInstance,
  VrrpScript,
  VsGroupEntry,
  VsTarget,
} from './model.js';
import { type AstNode, type AstWord, argText, hasArgs, releaseSplit } from './parse-types.js';
import { lineOf } from './specs.js';
import {
  ConfigStop,
  type Ctx,
  makeCommand,
  missingArg,
  parseDecimal,
  parseIntStrict,
  parseIp,
  parseIpShared,
  unsignedComplaint,
} from './values.js';

type Mutable<T> = { -readonly [K in keyof T]: T[K] };
/** The route/rule protocol keepalived gives what it tracks. */
const RTPROT_KEEPALIVED = 18;

export interface CheckOptions {
  configId: string;
  files: readonly string[];
  /** Config-test checks of the machine: does an interface exist (undefined: not checked). */
  interfaceExists?: ((name: string) => boolean) | undefined;
  /** Config-test checks of scripts (existence, user, security); undefined: not checked. */
  scripts?: ScriptEnv | undefined;
}

/** How the environment answers the script checks (real file system in the CLI, fakes in tests). */
export interface ScriptEnv {
  /** Absolute path of an executable found for argv[0] (PATH search for bare names), or undefined. */
  resolve(argv0: string): string | undefined;
  userExists(name: string): boolean;
  /** Whether a group of this name exists (undefined: groups are not checked). */
  groupExists?(name: string): boolean;
  /** Whether a host name resolves here, as getaddrinfo does (undefined: names are not checked). */
  hostResolves?(name: string): boolean;
  /** The path (or a directory above it) is writable by a non-root user. */
  unsafe(path: string): boolean;
}

// ---- keyword interpretation ----

export interface Entry {
  readonly value: unknown;
  readonly node: AstNode;
}

/**
 * Keyword occurrences of one block, by draft key, in order: one flat array of (key, value, node)
 * triples rather than a Map of lists. A block holds a few keys, and a large file has tens of
 * thousands of blocks whose drafts all stay alive until the model is built.
 */
/** The entries of a draft with none yet (never written to: add() replaces it). */
const NO_ENTRIES: unknown[] = [];

export class Draft {
  /** key, value, node, key, value, node… (the first `n` slots; readBlock sizes it once) */
  private e: unknown[] = NO_ENTRIES;
  private n = 0;
  constructor(readonly node: AstNode | undefined) {}
  /** The draft of a block's content (this object; see NamedDraft). */
  get d(): Draft {
    return this;
  }
  /** A block's name: its first argument. */
  get name(): string {
    return this.node ? (argText(this.node, 0) ?? '') : '';
  }
  /** Room for `count` occurrences, so a block's draft is allocated once at its final size. */
  reserve(count: number): void {
    if (this.n === 0 && count > 0) this.e = new Array(3 * count);
  }
  add(key: string, value: unknown, node: AstNode): void {
    const e = this.e;
    const i = this.n;
    this.n = i + 3;
    if (i < e.length) {
      e[i] = key;
      e[i + 1] = value;
      e[i + 2] = node;
    } else if (e === NO_ENTRIES) this.e = [key, value, node];
    else e.push(key, value, node);
  }
  /** Drops the room not used (done once a block is read); the array is shortened in place. */
  trim(): void {
    if (this.e.length > this.n) this.e.length = this.n;
  }
  /** Removes every occurrence of `key` (a later one replaces it and moves it last, as Map.delete + set did). */
  delete(key: string): void {
    const e = this.e;
    if (!this.has(key)) return;
    let j = 0;
    for (let i = 0; i < this.n; i += 3) {
      if (e[i] === key) continue;
      e[j] = e[i];
      e[j + 1] = e[i + 1];
      e[j + 2] = e[i + 2];
      j += 3;
    }
    for (let i = j; i < this.n; i++) e[i] = undefined;
    this.n = j;
  }
  private find(key: string): number {
    const e = this.e;
    for (let i = this.n - 3; i >= 0; i -= 3) if (e[i] === key) return i;
    return -1;
  }
  has(key: string): boolean {
    return this.find(key) >= 0;
  }
  last<T>(key: string): T | undefined {
    const i = this.find(key);
    return i < 0 ? undefined : (this.e[i + 1] as T);
  }
  entry(key: string): Entry | undefined {
    const i = this.find(key);
    return i < 0 ? undefined : { value: this.e[i + 1], node: this.e[i + 2] as AstNode };
  }
  all(key: string): Entry[] {
    const e = this.e;
    const out: Entry[] = [];
    for (let i = 0; i < this.n; i += 3)
      if (e[i] === key) out.push({ value: e[i + 1], node: e[i + 2] as AstNode });
    return out;
  }
  /** The index of the first occurrence of `key` at or after index `from` (a multiple of 3), or -1. */
  next(key: string, from: number): number {
    const e = this.e;
    for (let i = from; i < this.n; i += 3) if (e[i] === key) return i;
    return -1;
  }
  valueAt<T>(i: number): T {
    return this.e[i + 1] as T;
  }
  keyAt(i: number): string {
    return this.e[i] as string;
  }
  nodeAt(i: number): AstNode {
    return this.e[i + 2] as AstNode;
  }
  /** Occurrences recorded. */
  get size(): number {
    return this.n / 3;
  }
  clear(): void {
    this.e.fill(undefined, 0, this.n);
    this.n = 0;
  }
  /** The values of every occurrence of `key`, in order (all() without the entry objects). */
  values<T>(key: string): T[] {
    const e = this.e;
    const out: T[] = [];
    for (let i = 0; i < this.n; i += 3) if (e[i] === key) out.push(e[i + 1] as T);
    return out;
  }
  /** Concatenated items of a repeated list block. */
  items<T>(key: string): T[] {
    const e = this.e;
    const out: T[] = [];
    for (let i = 0; i < this.n; i += 3) if (e[i] === key) for (const x of e[i + 1] as T[]) out.push(x);
    return out;
  }
  /** Each key with its occurrences, keys in order of their first occurrence. */
  groups(): [string, Entry[]][] {
    const e = this.e;
    const out: [string, Entry[]][] = [];
    const seen = new Set<string>();
    for (let i = 0; i < this.n; i += 3) {
      const k = e[i] as string;
      if (seen.has(k)) continue;
      seen.add(k);
      out.push([k, this.all(k)]);
    }
    return out;
  }
}

class Checker_ {
  readonly c: Ctx;
  constructor(readonly diags: DiagnosticSink) {
    this.c = { diags };
  }

  report(
    code: ConfigErrorCode,
    cls: KaClass,
    pos: SrcPos | undefined,
    keyword: string,
    message: string,
    expected?: string,
  ): void {
    const severity =
      cls === KaClass.None ||
      cls === KaClass.Deprecated ||
      cls === KaClass.Warning ||
      cls === KaClass.UnknownKeyword
        ? 'warning'
        : cls <= KaClass.Fatal
          ? 'fatal'
          : 'error';
    this.diags.add(code, severity, cls, pos, keyword, message, expected);
  }

  readBlock(children: readonly AstNode[], table: Table, block: string, d = new Draft(undefined)): Draft {
    d.reserve(children.length);
    const known = tableMap(table);
    for (let i = 0; i < children.length; i++) this.readKnown(children[i]!, known, table, block, d);
    d.trim();
    return d;
  }

  readKeyword(n: AstNode, table: Table, block: string, d: Draft): void {
    this.readKnown(n, tableMap(table), table, block, d);
  }

  /** readKeyword with the table's Map already looked up (once per block). */
  private readKnown(n: AstNode, map: Map<string, Known>, table: Table, block: string, d: Draft): void {
    const known = map.get(n.keyword);
    if (!known) {
      this.report(
        'KA_ERR_CONF_UNKNOWN_KEYWORD',
        KaClass.UnknownKeyword,
        n.pos,
        n.keyword,
        `Unknown keyword '${n.keyword}' in ${block}`,
        `a keyword of ${block}`,
      );
      return;
    }
    const kw = known.kw;
    if (kw.dep) {
      // keepalived accepts silent aliases without recording anything: we warn without changing
      // the config-test exit code
      const silent = kw.dep.cls === 'silent';
      this.report(
        'KA_ERR_CONF_DEPRECATED',
        silent ? KaClass.None : (kw.dep.cls as KaClass),
        n.pos,
        n.keyword,
        silent ? `'${n.keyword}' is an old alias of '${kw.dep.use}'` : `'${n.keyword}' is deprecated`,
        kw.dep.use ? `'${kw.dep.use}'` : undefined,
      );
    }
    if (kw.req === true && !hasArgs(n)) missingArg(n, this.c, kw.block ? 'a name' : 'an argument');
    const key = known.key;
    let value: unknown;
    if (kw.block || kw.lines) {
      if (!n.children) {
        this.report(
          'KA_ERR_CONF_MISSING_BRACE',
          // keepalived 2.2.7 reads a list keyword without '{' as an empty list (an error only where
          // it warns of an empty list)
          kw.lines ? (kw.nonEmpty ? KaClass.GeneralError : KaClass.None) : KaClass.UnexpectedBrace,
          n.args[n.args.length - 1]?.pos ?? n.pos,
          n.keyword,
          "Missing '{' at beginning of configuration block",
          `'${n.keyword} {'`,
        );
        // an empty list still counts as given (e.g. `unicast_peer` alone is a unicast keyword)
        if (kw.lines && table !== TOP_LEVEL) d.add(key, [], n);
        return;
      }
      if (kw.block) {
        value = this.readBlock(n.children, kw.block, n.keyword, new Draft(n) as NamedDraft);
      } else {
        const items: unknown[] = [];
        if (kw.nonEmpty && n.children.length === 0) {
          this.report(
            'KA_ERR_CONF_MISSING_REQUIRED',
            KaClass.GeneralError,
            n.close ?? n.pos,
            n.keyword,
            `Warning - empty ${n.keyword} block`,
            'at least one entry',
          );
        }
        for (const ch of n.children) {
          if (ch.children) {
            this.report(
              'KA_ERR_CONF_UNEXPECTED_BRACE',
              KaClass.UnexpectedBrace,
              ch.open ?? ch.pos,
              ch.keyword,
              `Unexpected '{' in ${n.keyword} - ignoring the block`,
              'one entry per line',
            );
            continue;
          }
          const it = kw.lines!(lineOf(ch), this.c, n.keyword);
          if (it !== undefined) items.push(it);
        }
        value = items;
      }
    } else {
      if (n.children) {
        this.report(
          'KA_ERR_CONF_UNEXPECTED_BRACE',
          KaClass.UnexpectedBrace,
          n.open ?? n.pos,
          n.keyword,
          `Unexpected '{' after '${n.keyword}' - ignoring the block`,
          `'${n.keyword}' takes no block`,
        );
      }
      value = kw.v!(n, this.c);
      if (value === undefined) return;
    }
    if (kw.once && d.has(key)) {
      this.report(
        'KA_ERR_CONF_BAD_VALUE',
        KaClass.GeneralError,
        n.pos,
        n.keyword,
        `${n.keyword} already specified - ignoring`,
        `one '${n.keyword}'`,
      );
      return;
    }
    if (!kw.multi) d.delete(key);
    d.add(key, value, n);
  }
}

/**
 * After a stop at `line`: drops the preprocessor's and parser's diagnostics (the first `count` of
 * `list`) that keepalived, reading line by line, never reaches: those in a file whose statements
 * all come after the stopping line, or on a line after the last statement read in their file. A file
 * without statements keeps its diagnostics (its place in the reading order is not known here).
 * Walks the tree once, only on the stop path.
 */
function dropAfter(list: Diagnostic[], count: number, ast: readonly AstNode[], line: SrcPos): void {
  const before = new Map<string, number>();
  const after = new Set<string>();
  let passed = false;
  const walk = (nodes: readonly AstNode[]): void => {
    for (const n of nodes) {
      const p = n.pos;
      if (passed) after.add(p.file);
      else before.set(p.file, Math.max(before.get(p.file) ?? 0, p.line));
      if (p.file === line.file && p.line === line.line) passed = true;
      if (n.children) walk(n.children);
    }
  };
  walk(ast);
  const reached = (d: Diagnostic): boolean => {
    if (!d.pos) return true;
    const last = before.get(d.pos.file);
    return last === undefined ? !after.has(d.pos.file) : d.pos.line <= last;
  };
  list.splice(0, count, ...list.slice(0, count).filter(reached));
}

/**
 * An IPv4 address as inet_aton reads it: 1 to 4 parts, each a C number (0x hex, 0 octal, decimal);
 * the last part fills the remaining bytes. Hand-written: ipaddr.js does not take the 1- to 3-part forms.
 */
function inetAton(t: string): boolean {
  const parts = t.split('.');
  if (parts.length > 4) return false;
  const nums: number[] = [];
  for (const p of parts) {
    const n = /^0x[0-9a-f]*$/i.test(p)
      ? p.length > 2
        ? Number.parseInt(p.slice(2), 16)
        : 0
      : /^0[0-7]*$/.test(p)
        ? Number.parseInt(p, 8)
        : /^[1-9]\d*$/.test(p)
          ? Number(p)
          : Number.NaN;
    if (Number.isNaN(n)) return false;
    nums.push(n);
  }
  const last = nums.length - 1;
  return nums.every((n, i) => n <= (i < last ? 255 : 2 ** (8 * (4 - last)) - 1));
}

/** `a` comes before `b` in the configuration text. */
function earlier(a: SrcPos, b: SrcPos): boolean {
  if (a.file !== b.file) return true;
  return a.line < b.line || (a.line === b.line && a.col < b.col);
}

/** A regex offset: keepalived 2.2.7 records no error for a bad one, it is then not used. */
function offsetOf(words: readonly string[] | undefined): number | undefined {
  const w = words?.[0];
  return w !== undefined && /^\d+$/.test(w) && Number(w) <= 2147483647 ? Number(w) : undefined;
}

/** A checker's kind and timing fields without its connection fields (checkers that connect nowhere). */
function timingOf<T extends { connectIp: unknown }>(base: T) {
  const {
    connectIp: _ip,
    connectPort: _port,
    bindto: _bindto,
    bindIf: _bindIf,
    bindPort: _bindPort,
    fwmark: _fwmark,
    connectTimeout: _timeout,
    ...timing
  } = base as T &
    Record<'connectPort' | 'bindto' | 'bindIf' | 'bindPort' | 'fwmark' | 'connectTimeout', unknown>;
  return timing;
}

/** A keyword of a table and its draft key (the table's own string: see tableMap). */
interface Known {
  readonly kw: Kw;
  readonly key: string;
}

/**
 * Each keyword table as a Map: one hash lookup per keyword instead of hasOwn and a property read.
 * Draft keys are the tables' own strings (V8 keeps one copy of each such name), so the drafts'
 * lookups by a literal key (`d.last('weight')`) match by identity, not by comparing characters
 * with the keyword's text from the file.
 */
const tableMaps = new Map<Table, Map<string, Known>>();
function tableMap(table: Table): Map<string, Known> {
  let m = tableMaps.get(table);
  if (!m) {
    m = new Map(Object.entries(table).map(([name, kw]) => [name, { kw, key: kw.key ?? name }]));
    tableMaps.set(table, m);
  }
  return m;
}

/**
 * A block occurrence: its node and the draft of its content (one object: a large file has tens of
 * thousands). The same class as every draft: one object shape for the drafts' hot lookups.
 */
export type NamedDraft = Draft & { readonly node: AstNode };

// ---- building the model ----

const DEFAULT_GARP: GarpTiming = {
  masterDelay: 5,
  masterRepeat: 5,
  lowerPrioDelay: 5,
  lowerPrioRepeat: 5,
  masterRefresh: 0,
  masterRefreshRepeat: 1,
};

/** The master defaults after vrrp_min_garp: one GARP/NA, no second burst, no refresh. */
const MIN_GARP: GarpTiming = {
  masterDelay: 0,
  masterRepeat: 1,
  lowerPrioDelay: 0,
  lowerPrioRepeat: 1,
  masterRefresh: 0,
  masterRefreshRepeat: 0,
};

const SCHEDULERS = [
  'rr',
  'wrr',
  'lc',
  'wlc',
  'lblc',
  'sh',
  'mh',
  'dh',
  'fo',
  'ovf',
  'lblcr',
  'sed',
  'nq',
  'twos',
];

export class ConfigBuilder extends Checker_ {
  private readonly scripts = new Map<string, Mutable<VrrpScript>>();
  /** keepalived numbers rules without a preference from 16384 down, per family, in file order. */
  private readonly nextRulePriority = { inet: 16384, inet6: 16384 };
  private readonly staticRules: RuleSpec[] = [];
  /** script_user named a user or group this machine lacks (config test only). */
  private scriptUserFailed = false;
  private readonly trackFiles = new Map<string, TrackFile>();
  private readonly trackProcs = new Map<string, TrackProcess>();
  private readonly bfds = new Map<string, BfdInstance>();
  private readonly instances: Mutable<VrrpInstance>[] = [];
  /** The same instances by name (a file may have thousands: no linear search per instance). */
  private readonly instanceByName = new Map<string, Mutable<VrrpInstance>>();
  private readonly groups: { nd: NamedDraft; members: { name: string; pos: SrcPos }[] }[] = [];
  private readonly vsgs = new Map<string, VirtualServerGroup>();
  private readonly globalDraft = new Draft(undefined);
  private readonly top = new Draft(undefined);
  private readonly topScratch = new Draft(undefined);
  private readonly commands: {
    cmd: Command;
    kind: 'track' | 'notify';
    owner: string;
    side: 'vrrp' | 'checker' | 'parent';
  }[] = [];
  private vrrpBadIf = false;
  private global!: GlobalDefs;

  constructor(
    diags: DiagnosticSink,
    private readonly opts: CheckOptions,
  ) {
    super(diags);
  }

  build(ast: readonly AstNode[]): KeepalivedConfig {
    const fromParse = this.diags.list.length;
    try {
      return this.buildAll(ast);
    } catch (e) {
      if (!(e instanceof ConfigStop)) throw e;
      dropAfter(this.diags.list, fromParse, ast, e.line);
      // keepalived has exited: no model (the daemon refuses the file on the fatal diagnostic)
      return new ConfigBuilder(new DiagnosticSink(), this.opts).build([]);
    } finally {
      // the model keeps no node: nothing of the parse stays reachable
      releaseSplit();
    }
  }

  private buildAll(ast: readonly AstNode[]): KeepalivedConfig {
    // global_defs first: keepalived reads them before anything else uses them.
    for (const n of ast) {
      if (n.keyword === 'global_defs' && n.children) {
        for (const ch of n.children) this.readKeyword(ch, GLOBAL_DEFS, 'global_defs', this.globalDraft);
      } else if (Object.hasOwn(SHARED_GLOBALS, n.keyword))
        this.readKeyword(n, SHARED_GLOBALS, 'top level', this.globalDraft);
    }
    this.global = this.finishGlobal(this.globalDraft);
    for (const n of ast) {
      if (n.keyword === 'global_defs') {
        if (!n.children) this.readKeyword(n, TOP_LEVEL, 'top level', this.top);
        continue;
      }
      if (Object.hasOwn(SHARED_GLOBALS, n.keyword)) continue;
      // one keyword read on its own (a fresh draft: no once/replace rule across top-level items)
      // records at most one occurrence; the scratch draft is emptied for the next item
      const d = this.topScratch;
      this.readKeyword(n, TOP_LEVEL, 'top level', d);
      if (d.size === 0) continue;
      const key = d.keyAt(0);
      const value = d.valueAt(0);
      this.top.add(key, value, d.nodeAt(0));
      d.clear();
      this.finishTop(key, value);
    }
    this.finishSyncGroups();
    const vsList = this.finishVirtualServers();
    this.checkDuplicateVrids();
    if (this.opts.scripts) this.checkScripts(this.opts.scripts);
    const sslD = this.top.last<NamedDraft>('SSL');
    return {
      configId: this.opts.configId,
      files: this.opts.files,
      global: this.global,
      staticIpaddress: this.top.items<AddressSpec>('static_ipaddress'),
      staticRoutes: this.top.items<RouteSpec>('static_routes'),
      staticRules: this.staticRules,
      linkbeatInterfaces: this.top
        .items<{ name: string; extra: string[] }>('linkbeat_interfaces')
        .map((x) => ({ name: x.name, mode: x.extra[0] })),
      interfaceUpDownDelays: this.interfaceDelays(),
      trackGroups: this.top.all('track_group').flatMap((e) => {
        const nd = e.value as NamedDraft;
        // keepalived: "track_group must have a name - skipping"
        if (!this.nameOf(nd, 'track_group', KaClass.GeneralError)) return [];
        return [
          {
            name: nd.name,
            members: nd.d
              .items<{ name: string; extra: string[] }>('group')
              .flatMap((x) => [x.name, ...x.extra]),
          },
        ];
      }),
      garpGroups: this.top.all('garp_group').flatMap((e) => {
        const d = (e.value as NamedDraft).d;
        const ifs = d
          .items<{ name: string; extra: string[] }>('interfaces')
          .flatMap((x) => [x.name, ...x.extra]);
        const one = d.last<string>('interface');
        const oneE = d.entry('interface');
        if (oneE) this.checkIf(one, oneE.node.args[0]?.pos ?? oneE.node.pos, 'garp_group');
        for (const l of d.all('interfaces'))
          for (const x of l.value as { name: string; extra: string[] }[])
            for (const n of [x.name, ...x.extra]) this.checkIf(n, l.node.pos, 'garp_group');
        if (!d.has('garp_interval') && !d.has('gna_interval')) {
          this.report(
            'KA_ERR_CONF_MISSING_REQUIRED',
            KaClass.GeneralError,
            e.node.pos,
            'garp_group',
            'garp group does not have any delay set - removing',
            "'garp_interval' or 'gna_interval'",
          );
          return [];
        }
        return [
          {
            garpInterval: d.last<number>('garp_interval'),
            gnaInterval: d.last<number>('gna_interval'),
            interfaces: one ? [one, ...ifs] : ifs,
          },
        ];
      }),
      vrrpScripts: [...this.scripts.values()],
      trackFiles: [...this.trackFiles.values()],
      trackProcesses: [...this.trackProcs.values()],
      bfdInstances: [...this.bfds.values()],
      syncGroups: this.finishedGroups,
      vrrpInstances: this.instances,
      ssl: sslD
        ? {
            password: sslD.d.last('password'),
            ca: sslD.d.last('ca'),
            certificate: sslD.d.last('certificate'),
            key: sslD.d.last('key'),
          }
        : undefined,
      virtualServerGroups: [...this.vsgs.values()],
      virtualServers: vsList,
    };
  }

  private interfaceDelays(): { name: string; down: number; up: number }[] {
    const out: { name: string; down: number; up: number }[] = [];
    for (const x of this.top.items<{ name: string; extra: string[]; pos: SrcPos }>(
      'interface_up_down_delays',
    )) {
      const down = parseDecimal(x.extra[0] ?? '');
      const up = x.extra[1] === undefined ? down : parseDecimal(x.extra[1]);
      if (down === undefined || up === undefined || down < 0 || down > 255 || up < 0 || up > 255) {
        this.report(
          'KA_ERR_CONF_BAD_NUMBER',
          KaClass.InvalidNumber,
          x.pos,
          'interface_up_down_delays',
          `invalid delays for ${x.name}`,
          'down_delay [up_delay], seconds 0..255',
        );
        continue;
      }
      out.push({ name: x.name, down, up });
    }
    return out;
  }

  private finishTop(key: string, v: unknown): void {
    switch (key) {
      case 'vrrp_script':
        this.finishScript(v as NamedDraft);
        return;
      case 'track_file':
        this.finishTrackFile(v as NamedDraft);
        return;
      case 'vrrp_track_process':
        this.finishTrackProcess(v as NamedDraft);
        return;
      case 'bfd_instance':
        this.finishBfd(v as NamedDraft);
        return;
      case 'vrrp_instance':
        this.finishInstance(v as NamedDraft);
        return;
      case 'vrrp_sync_group': {
        const nd = v as NamedDraft;
        this.groups.push({
          nd,
          members: nd.d
            .items<{ name: string; extra: string[]; pos: SrcPos }>('group')
            .flatMap((x) => [{ name: x.name, pos: x.pos }, ...x.extra.map((e) => ({ name: e, pos: x.pos }))]),
        });
        return;
      }
      case 'virtual_server_group':
        return;
      case 'virtual_server':
        return;
      case 'static_ipaddress':
        for (const a of v as AddressSpec[]) this.checkIf(a.dev, a.pos, `ip address ${a.address}/${a.prefix}`);
        return;
      case 'static_routes':
        this.checkStaticRoutes(v as Mutable<RouteSpec>[]);
        return;
      case 'static_rules':
        this.staticRules.push(...this.checkRules(v as RuleSpec[], 'static_rules'));
        return;
      default:
        return;
    }
  }

  /**
   * keepalived 2.2.7 checks a static route as it reads it: its track_group must be defined above it,
   * a tracked route needs an interface, and the interface must exist.
   */
  private checkStaticRoutes(routes: Mutable<RouteSpec>[]): void {
    for (const r of routes) {
      r.trackGroup = this.trackGroupAbove(r.trackGroup, r.pos);
      // keepalived's "Warning": the route stays, untracked; the config test still exits 5
      if (!r.dev && !r.noTrack)
        this.report(
          'KA_ERR_CONF_BAD_VALUE',
          KaClass.Warning,
          r.pos,
          'static_routes',
          `Warning - cannot track route ${r.to} with no interface specified, not tracking`,
          "'dev IF' or 'no_track'",
        );
      if (r.trackGroup !== undefined && !r.dev) {
        this.report(
          'KA_ERR_CONF_CONFLICT',
          KaClass.GeneralError,
          r.pos,
          'track_group',
          'Static route cannot have track group if no oif specified',
          "'dev IF'",
        );
        r.trackGroup = undefined;
      }
      this.checkIf(r.dev, r.pos, `route ${r.to}`);
    }
  }

  /**
   * keepalived 2.2.7's checks of a rule that need more than its line: interfaces (a missing one
   * drops the rule), a tracked rule's protocol, static track_groups (defined above the rule, with
   * an iif), and the preference it numbers from 16384 down per family when none is given (the
   * model keeps it undefined; daemon/dumps.ts numbers them the same way).
   */
  private checkRules(rules: readonly RuleSpec[], block: 'static_rules' | 'virtual_rules'): RuleSpec[] {
    const out: RuleSpec[] = [];
    for (const rule of rules) {
      const r: Mutable<RuleSpec> = { ...rule };
      if (!this.checkIf(r.iif, r.pos, 'rule') || !this.checkIf(r.oif, r.pos, 'rule')) continue;
      const proto = r.options.protocol;
      if (!r.noTrack && proto !== undefined && parseIntStrict(proto) !== RTPROT_KEEPALIVED)
        this.report(
          'KA_ERR_CONF_CONFLICT',
          KaClass.GeneralError,
          r.pos,
          'protocol',
          `Rule cannot be tracked if protocol is not RTPROT_KEEPALIVED(${RTPROT_KEEPALIVED}), resetting protocol`,
          "'no_track' or 'protocol 18'",
        );
      r.trackGroup = this.trackGroupAbove(r.trackGroup, r.pos);
      if (r.trackGroup !== undefined && r.iif === undefined) {
        this.report(
          'KA_ERR_CONF_CONFLICT',
          KaClass.GeneralError,
          r.pos,
          'track_group',
          'Static rule cannot have track_group if dev/iif not specified',
          "'dev IF'",
        );
        r.trackGroup = undefined;
      }
      if (r.preference === undefined)
        this.report(
          'KA_ERR_CONF_MISSING_ARG',
          KaClass.GeneralError,
          r.pos,
          block,
          `Rule has no preference specified - setting to ${this.nextRulePriority[r.family]--}. This is probably not what you want.`,
          "'preference N'",
        );
      out.push(r);
    }
    return out;
  }

  /** The name when a track_group of that name was read above this point of the file, else reported. */
  private trackGroupAbove(name: string | undefined, pos: SrcPos): string | undefined {
    if (name === undefined) return undefined;
    if (this.top.all('track_group').some((e) => (e.value as NamedDraft).node.args[0]?.text === name))
      return name;
    this.report(
      'KA_ERR_CONF_UNDEFINED_REF',
      KaClass.GeneralError,
      pos,
      'track_group',
      `track_group ${name} not found`,
      'a track_group defined above',
    );
    return undefined;
  }

  // ---- global_defs ----

  private finishGlobal(d: Draft): GlobalDefs {
    const host = hostname();
    const bool = (k: string, def = false): boolean => d.last<boolean>(k) ?? def;
    const smtp = d.entry('smtp_server');
    let smtpServer: GlobalDefs['smtpServer'];
    if (smtp) {
      const w = smtp.value as string[];
      const port = w[1] === undefined ? 25 : parseIntStrict(w[1]);
      if (!w[0])
        this.report(
          'KA_ERR_CONF_MISSING_ARG',
          KaClass.MissingParameter,
          smtp.node.pos,
          'smtp_server',
          'no server given',
          'HOST [PORT]',
        );
      else if (port === undefined || port < 1 || port > 65535)
        this.report(
          'KA_ERR_CONF_BAD_NUMBER',
          KaClass.InvalidNumber,
          smtp.node.args[1]?.pos,
          'smtp_server',
          `invalid port '${w[1]}'`,
          'a port 1..65535',
        );
      else if (!parseIp(w[0]) && this.opts.scripts?.hostResolves?.(w[0]) === false)
        // keepalived resolves the name while reading the keyword
        this.report(
          'KA_ERR_CONF_BAD_ADDRESS',
          KaClass.GeneralError,
          smtp.node.args[0]?.pos ?? smtp.node.pos,
          'smtp_server',
          `Invalid smtp server ${w[0]} ${port}: the name does not resolve`,
          'an address or a host name this machine resolves',
        );
      else smtpServer = { host: w[0], port };
    }
    // vrrp_min_garp (keepalived's handler) lowers, where it is read, each master default not yet set;
    // a value written before or after it wins, so the result does not depend on the order.
    const base = bool('vrrp_min_garp') ? MIN_GARP : DEFAULT_GARP;
    const masterDelay = d.last<number>('vrrp_garp_master_delay') ?? base.masterDelay;
    const masterRepeat = d.last<number>('vrrp_garp_master_repeat') ?? base.masterRepeat;
    const garp: GarpTiming = {
      masterDelay,
      masterRepeat,
      lowerPrioDelay: d.last<number>('vrrp_garp_lower_prio_delay') ?? masterDelay,
      lowerPrioRepeat: d.last<number>('vrrp_garp_lower_prio_repeat') ?? masterRepeat,
      masterRefresh: d.last<number>('vrrp_garp_master_refresh') ?? base.masterRefresh,
      masterRefreshRepeat: d.last<number>('vrrp_garp_master_refresh_repeat') ?? base.masterRefreshRepeat,
    };
    const su = d.entry('script_user');
    let scriptUser: GlobalDefs['scriptUser'];
    if (su) {
      const w = su.value as string[];
      if (!w[0])
        this.report(
          'KA_ERR_CONF_MISSING_ARG',
          KaClass.MissingParameter,
          su.node.pos,
          'script_user',
          'no user given',
          'USER [GROUP]',
        );
      else if (!this.userOk(w[0], w[1])) {
        // keepalived then has no default script user: vrrp_scripts without their own user are dropped
        this.scriptUserFailed = true;
        this.report(
          'KA_ERR_CONF_UNDEFINED_REF',
          KaClass.GeneralError,
          su.node.pos,
          'script_user',
          `Error setting global script uid/gid: no user '${w[0]}'${w[1] === undefined ? '' : ` or group '${w[1]}'`} on this machine`,
          'an existing user [and group]',
        );
      } else scriptUser = { user: w[0], group: w[1] };
    }
    const saveDir = d.entry('config_save_dir');
    if (saveDir?.value === '')
      // keepalived creates the directory while reading the keyword; "" cannot be made
      this.report(
        'KA_ERR_CONF_BAD_VALUE',
        KaClass.GeneralError,
        saveDir.node.args[0]?.pos ?? saveDir.node.pos,
        'config_save_dir',
        'Unable to create config_save_dir  (error 2 - No such file or directory)',
        'a directory path',
      );
    const dyn = d.last<string[]>('dynamic_interfaces');
    const modelled = new Set([
      'router_id',
      'notification_email',
      'notification_email_from',
      'smtp_server',
      'smtp_helo_name',
      'smtp_connect_timeout',
      'smtp_alert',
      'smtp_alert_vrrp',
      'smtp_alert_checker',
      'no_email_faults',
      'checker_log_all_failures',
      'no_checker_emails',
      'rs_init_notifies',
      'vrrp_version',
      'vrrp_mcast_group4',
      'vrrp_mcast_group6',
      'default_interface',
      'vrrp_garp_master_delay',
      'vrrp_garp_master_repeat',
      'vrrp_garp_lower_prio_delay',
      'vrrp_garp_lower_prio_repeat',
      'vrrp_garp_master_refresh',
      'vrrp_garp_master_refresh_repeat',
      'vrrp_garp_interval',
      'vrrp_gna_interval',
      'vrrp_min_garp',
      'vrrp_garp_extra_if',
      'vrrp_down_timer_adverts',
      'vrrp_lower_prio_no_advert',
      'vrrp_higher_prio_send_advert',
      'vrrp_check_unicast_src',
      'vrrp_skip_check_adv_addr',
      'vrrp_strict',
      'vrrp_notify_priority_changes',
      'vrrp_startup_delay',
      'log_unknown_vrids',
      'vmac_prefix',
      'vmac_addr_prefix',
      'dynamic_interfaces',
      'script_user',
      'enable_script_security',
      'notify_fifo',
      'notify_fifo_script',
      'vrrp_notify_fifo',
      'vrrp_notify_fifo_script',
      'lvs_notify_fifo',
      'lvs_notify_fifo_script',
      'lvs_sync_daemon',
      'lvs_timeouts',
      'lvs_flush',
      'lvs_flush_on_stop',
      'startup_script',
      'startup_script_timeout',
      'shutdown_script',
      'shutdown_script_timeout',
      'net_namespace',
      'instance',
      'use_pid_dir',
      'child_wait_time',
      'umask',
    ]);
    const settings: Record<string, string | number | boolean | readonly string[]> = {};
    for (const [k, l] of d.groups()) if (!modelled.has(k)) settings[k] = l[l.length - 1]!.value as string;
    const g: GlobalDefs = {
      routerId: d.last<string>('router_id') ?? host,
      notificationEmail: d
        .items<{ name: string; extra: string[] }>('notification_email')
        .flatMap((x) => [x.name, ...x.extra]),
      notificationEmailFrom: d.last<string>('notification_email_from') ?? `keepalived@${host}`,
      smtpServer,
      smtpHeloName: d.last<string>('smtp_helo_name') ?? host,
      smtpConnectTimeout: d.last<number>('smtp_connect_timeout') ?? 30,
      smtpAlert: d.last<boolean>('smtp_alert'),
      smtpAlertVrrp: d.last<boolean>('smtp_alert_vrrp'),
      smtpAlertChecker: d.last<boolean>('smtp_alert_checker'),
      noEmailFaults: bool('no_email_faults'),
      checkerLogAllFailures: bool('checker_log_all_failures'),
      noCheckerEmails: bool('no_checker_emails'),
      rsInitNotifies: bool('rs_init_notifies'),
      vrrpVersion: (d.last<number>('vrrp_version') ?? 2) as 2 | 3,
      vrrpMcastGroup4: d.last<{ address: string }>('vrrp_mcast_group4')?.address ?? '224.0.0.18',
      vrrpMcastGroup6: d.last<{ address: string }>('vrrp_mcast_group6')?.address ?? 'ff02::12',
      defaultInterface: d.last<string>('default_interface') ?? 'eth0',
      garp,
      vrrpGarpInterval: d.last<number>('vrrp_garp_interval') ?? 0,
      vrrpGnaInterval: d.last<number>('vrrp_gna_interval') ?? 0,
      vrrpMinGarp: bool('vrrp_min_garp'),
      vrrpGarpExtraIf: this.garpExtraIf(d.entry('vrrp_garp_extra_if'), 1),
      vrrpDownTimerAdverts: d.last<number>('vrrp_down_timer_adverts') ?? 3,
      vrrpLowerPrioNoAdvert: d.last<boolean>('vrrp_lower_prio_no_advert'),
      vrrpHigherPrioSendAdvert: bool('vrrp_higher_prio_send_advert'),
      vrrpCheckUnicastSrc: bool('vrrp_check_unicast_src'),
      vrrpSkipCheckAdvAddr: bool('vrrp_skip_check_adv_addr'),
      vrrpStrict: bool('vrrp_strict'),
      vrrpNotifyPriorityChanges: bool('vrrp_notify_priority_changes'),
      vrrpStartupDelay: d.last<number>('vrrp_startup_delay') ?? 0,
      logUnknownVrids: bool('log_unknown_vrids'),
      vmacPrefix: d.last<string>('vmac_prefix') ?? 'vrrp',
      vmacAddrPrefix: d.last<string>('vmac_addr_prefix') ?? 'vrrp',
      dynamicInterfaces: dyn ? (dyn[0] === 'allow_if_changes' ? 'allow_if_changes' : true) : false,
      scriptUser,
      enableScriptSecurity: bool('enable_script_security'),
      notifyFifo: this.fifo(d, 'notify_fifo'),
      vrrpNotifyFifo: this.fifo(d, 'vrrp_notify_fifo'),
      lvsNotifyFifo: this.fifo(d, 'lvs_notify_fifo'),
      lvsSyncDaemon: this.lvsSyncDaemon(d.entry('lvs_sync_daemon')),
      lvsTimeouts: this.lvsTimeouts(d.entry('lvs_timeouts')),
      lvsFlush: bool('lvs_flush'),
      lvsFlushOnStop: d.has('lvs_flush_on_stop')
        ? d.last<string[]>('lvs_flush_on_stop')?.[0] === 'VS'
          ? 'VS'
          : true
        : false,
      startupScript: this.globalScript(d, 'startup_script'),
      startupScriptTimeout: d.last<number>('startup_script_timeout') ?? 10,
      shutdownScript: this.globalScript(d, 'shutdown_script'),
      shutdownScriptTimeout: d.last<number>('shutdown_script_timeout') ?? 10,
      netNamespace: d.last<string>('net_namespace'),
      instance: d.last<string>('instance'),
      usePidDir: bool('use_pid_dir'),
      childWaitTime: d.last<number>('child_wait_time') ?? 5,
      umask: d.last<number>('umask'),
      settings,
    };
    for (const [k, cmd] of [
      ['startup_script', g.startupScript],
      ['shutdown_script', g.shutdownScript],
    ] as const)
      if (cmd) this.commands.push({ cmd, kind: 'notify', owner: k, side: 'parent' });
    for (const f of [g.notifyFifo, g.vrrpNotifyFifo, g.lvsNotifyFifo])
      if (f?.script)
        this.commands.push({
          cmd: f.script,
          kind: 'notify',
          owner: 'fifo script',
          side: f === g.lvsNotifyFifo ? 'checker' : 'vrrp',
        });
    return g;
  }

  /**
   * keepalived 2.2.7 looks a script user (and group) up by name while reading script_user, a
   * vrrp_script's or a MISC_CHECK's `user`; checked only by the config test (with a ScriptEnv).
   */
  private userOk(user: string, group: string | undefined): boolean {
    const env = this.opts.scripts;
    if (!env) return true;
    return env.userExists(user) && (group === undefined || (env.groupExists?.(group) ?? true));
  }

  /** startup_script / shutdown_script: keepalived refuses an empty command or an unknown user or group. */
  private globalScript(d: Draft, key: 'startup_script' | 'shutdown_script'): Command | undefined {
    const e = d.entry(key);
    const cmd = e?.value as Command | undefined;
    if (!e || !cmd) return undefined;
    if (cmd.argv[0] && (cmd.user === undefined || this.userOk(cmd.user, cmd.group))) return cmd;
    this.report(
      'KA_ERR_CONF_BAD_VALUE',
      KaClass.GeneralError,
      e.node.args[cmd.argv[0] ? 1 : 0]?.pos ?? e.node.pos,
      key,
      `Invalid ${key.replace('_script', '')} script${cmd.argv[0] ? `: no user '${cmd.user}'${cmd.group === undefined ? '' : ` or group '${cmd.group}'`}` : ''}`,
      'CMD [user [group]] with an existing user and group',
    );
    return undefined;
  }

  /** A block's `user USER [GROUP]` names a user or group this machine lacks: reported with `message`. */
  private unknownUser(d: Draft, message: string): boolean {
    const e = d.entry('user');
    const w = e?.value as string[] | undefined;
    if (!e || !w || this.userOk(w[0] ?? '', w[1])) return false;
    this.report(
      'KA_ERR_CONF_UNDEFINED_REF',
      KaClass.GeneralError,
      e.node.pos,
      'user',
      `${message} (no user '${w[0] ?? ''}'${w[1] === undefined ? '' : ` or group '${w[1]}'`} here)`,
      'an existing user [and group]',
    );
    return true;
  }

  private fifo(d: Draft, key: string): FifoSpec | undefined {
    const e = d.entry(key);
    if (!e) return undefined;
    const w = e.value as string[];
    if (w[0] === undefined) {
      this.report(
        'KA_ERR_CONF_MISSING_ARG',
        KaClass.MissingParameter,
        e.node.pos,
        key,
        'no FIFO path',
        'PATH [user [group]]',
      );
      return undefined;
    }
    if (w[0] === '') {
      // keepalived -t accepts "" (exit 0); no FIFO can be made at that path
      this.report(
        'KA_ERR_CONF_BAD_VALUE',
        KaClass.None,
        e.node.pos,
        key,
        'empty FIFO path - no FIFO',
        'a path',
      );
      return undefined;
    }
    const s = d.entry(`${key}_script`);
    const sw = s?.value as string[] | undefined;
    return {
      path: w[0],
      user: w[1],
      group: w[2],
      script: sw?.[0] ? makeCommand(sw[0], sw[1], sw[2], s!.node.args[0]!.pos) : undefined,
    };
  }

  /**
   * An instance's GARP timing (keepalived 2.2.7): each knob it does not set comes from the global
   * value, the lower-priority ones too (not from the instance's own master ones). Strict mode sends
   * no lower-priority GARPs: both become 0, with keepalived's message where the instance set them.
   */
  private instanceGarp(d: Draft, name: string, g: GarpTiming, strict: boolean): GarpTiming {
    const garp: GarpTiming = {
      masterDelay: d.last<number>('garp_master_delay') ?? g.masterDelay,
      masterRepeat: d.last<number>('garp_master_repeat') ?? g.masterRepeat,
      lowerPrioDelay: d.last<number>('garp_lower_prio_delay') ?? g.lowerPrioDelay,
      lowerPrioRepeat: d.last<number>('garp_lower_prio_repeat') ?? g.lowerPrioRepeat,
      masterRefresh: d.last<number>('garp_master_refresh') ?? g.masterRefresh,
      masterRefreshRepeat: d.last<number>('garp_master_refresh_repeat') ?? g.masterRefreshRepeat,
    };
    if (!strict) return garp;
    for (const [k, what] of [
      ['garp_lower_prio_delay', 'repeat garp delay'],
      ['garp_lower_prio_repeat', 'repeat garps'],
    ] as const) {
      const e = d.entry(k);
      if (e && d.last<number>(k))
        this.report(
          'KA_ERR_CONF_CONFLICT',
          KaClass.GeneralError,
          e.node.pos,
          k,
          `(${name}) Strict mode requires no ${what}. resetting`,
          `no ${k} in strict mode`,
        );
    }
    return { ...garp, lowerPrioDelay: 0, lowerPrioRepeat: 0 };
  }

  /** keepalived 2.2.7 ignores promote_secondaries on a VMAC (it sets it on every VMAC it makes). */
  private promoteSecondaries(d: Draft, name: string, vmac: boolean): boolean {
    const e = d.entry('promote_secondaries');
    if (!e) return false;
    if (!vmac) return true;
    this.report(
      'KA_ERR_CONF_CONFLICT',
      KaClass.GeneralError,
      e.node.pos,
      'promote_secondaries',
      `(${name}) promote_secondaries is automatically set for vmacs - ignoring`,
      'no promote_secondaries with use_vmac',
    );
    return false;
  }

  /** `[all] SECONDS`: keepalived 2.2.7 takes 1..86400 in global_defs, 0..86400 in an instance ("" is 0). */
  private garpExtraIf(e: Entry | undefined, min: number): GlobalDefs['vrrpGarpExtraIf'] {
    if (!e) return undefined;
    const w = e.value as string[];
    const all = w[0] === 'all';
    const t = all ? w[1] : w[0];
    const v = t === undefined ? undefined : t === '' ? 0 : parseIntStrict(t);
    if (v === undefined || v < min || v > 86400) {
      this.report(
        'KA_ERR_CONF_BAD_NUMBER',
        KaClass.InvalidNumber,
        e.node.args[all ? 1 : 0]?.pos ?? e.node.pos,
        e.node.keyword,
        `invalid interval '${t ?? ''}'`,
        `[all] seconds ${min}..86400`,
      );
      return undefined;
    }
    return { interval: v, all };
  }

  private lvsSyncDaemon(e: Entry | undefined): GlobalDefs['lvsSyncDaemon'] {
    if (!e) return undefined;
    const w = e.value as string[];
    if (w[0] === undefined) {
      this.report(
        'KA_ERR_CONF_MISSING_ARG',
        KaClass.MissingParameter,
        e.node.pos,
        'lvs_sync_daemon',
        'no interface',
        'IF [VI] [id N] [maxlen N] [port N] [ttl N] [group IP]',
      );
      return undefined;
    }
    if (w[0] === '') {
      // keepalived -t accepts "" (exit 0); no sync daemon can run on it
      this.report(
        'KA_ERR_CONF_BAD_VALUE',
        KaClass.None,
        e.node.pos,
        'lvs_sync_daemon',
        'empty interface name - no sync daemon',
        'an interface',
      );
      return undefined;
    }
    const r: Mutable<NonNullable<GlobalDefs['lvsSyncDaemon']>> = {
      interface: w[0],
      instance: undefined,
      syncId: undefined,
      maxlen: undefined,
      port: undefined,
      ttl: undefined,
      group: undefined,
    };
    for (let i = 1; i < w.length; i++) {
      const k = w[i]!;
      const val = w[i + 1];
      if (k === 'inst') continue;
      if (['id', 'maxlen', 'port', 'ttl'].includes(k)) {
        const n = val === undefined ? undefined : parseIntStrict(val);
        if (n === undefined || n < 0 || n > 65535) {
          this.report(
            'KA_ERR_CONF_BAD_NUMBER',
            KaClass.InvalidNumber,
            e.node.args[i + 1]?.pos ?? e.node.pos,
            `lvs_sync_daemon ${k}`,
            `invalid ${k} '${val ?? ''}'`,
            'an integer',
          );
          return undefined;
        }
        if (k === 'id') r.syncId = n;
        else if (k === 'maxlen') r.maxlen = n;
        else if (k === 'port') r.port = n;
        else r.ttl = n;
        i++;
      } else if (k === 'group') {
        r.group = val;
        i++;
      } else if (r.instance === undefined) r.instance = k;
    }
    return r;
  }

  private lvsTimeouts(e: Entry | undefined): GlobalDefs['lvsTimeouts'] {
    if (!e) return undefined;
    const w = e.value as string[];
    const r: { tcp?: number; tcpfin?: number; udp?: number } = {};
    for (let i = 0; i < w.length; i += 2) {
      const k = w[i]!;
      const n = parseIntStrict(w[i + 1] ?? '');
      if ((k !== 'tcp' && k !== 'tcpfin' && k !== 'udp') || n === undefined || n < 0 || n > 86400 * 31) {
        this.report(
          'KA_ERR_CONF_BAD_VALUE',
          KaClass.GeneralError,
          e.node.args[i]?.pos ?? e.node.pos,
          'lvs_timeouts',
          `invalid lvs_timeouts entry '${k} ${w[i + 1] ?? ''}'`,
          'tcp|tcpfin|udp SECONDS',
        );
        continue;
      }
      r[k] = n;
    }
    return r;
  }

  // ---- trackers ----

  private nameOf(nd: NamedDraft, block: string, cls = KaClass.MissingParameter): string | undefined {
    const name = argText(nd.node, 0);
    if (!name) {
      this.report(
        'KA_ERR_CONF_MISSING_ARG',
        cls,
        nd.node.pos,
        block,
        `${block} without a name`,
        `${block} NAME {`,
      );
      return undefined;
    }
    return name;
  }

  private weightOf(e: Entry | undefined, max: number, def: number): { weight: number; reverse: boolean } {
    if (!e) return { weight: def, reverse: false };
    const w = e.value as string[];
    // keepalived reads an empty word ("") as 0
    const n = w[0] === '' ? 0 : parseIntStrict(w[0] ?? '');
    if (w[1] !== undefined && w[1] !== 'reverse') {
      this.report(
        'KA_ERR_CONF_BAD_VALUE',
        KaClass.GeneralError,
        e.node.args[1]?.pos ?? e.node.pos,
        'weight',
        `unknown weight option ${w[1]}`,
        "'reverse'",
      );
    }
    if (n === undefined || n < -max || n > max) {
      this.report(
        'KA_ERR_CONF_BAD_NUMBER',
        KaClass.InvalidNumber,
        e.node.args[0]?.pos ?? e.node.pos,
        'weight',
        `weight '${w[0] ?? ''}' invalid or outside range [-${max}, ${max}]`,
        `an integer in [-${max}, ${max}]`,
      );
      return { weight: def, reverse: false };
    }
    return { weight: n, reverse: w[1] === 'reverse' };
  }

  /**
   * A block's required keyword (its last value), or undefined after keepalived's "No KEY set for
   * BLOCK NAME - removing". An empty value (`""`, or a list whose first word is empty or absent)
   * counts as missing.
   */
  private required<T>(nd: NamedDraft, key: string, block: string, name: string): T | undefined {
    const v = nd.d.last<T>(key);
    if (v !== undefined && v !== '' && !(Array.isArray(v) && !v[0])) return v;
    this.report(
      'KA_ERR_CONF_MISSING_REQUIRED',
      KaClass.GeneralError,
      nd.node.pos,
      block,
      `No ${key} set for ${block} ${name} - removing`,
      `a '${key}' keyword`,
    );
    return undefined;
  }

  private finishScript(nd: NamedDraft): void {
    const name = this.nameOf(nd, 'vrrp_script');
    if (!name) return;
    const d = nd.d;
    const script = this.required<Command>(nd, 'script', 'vrrp_script', name);
    if (!script) return;
    let interval = d.last<number>('interval') ?? 1;
    if (interval === 0) {
      this.report(
        'KA_ERR_CONF_BAD_NUMBER',
        KaClass.InvalidNumber,
        d.entry('interval')!.node.pos,
        'interval',
        'vrrp_script interval 0 is invalid - using 1',
        'an interval ≥ 1 second',
      );
      interval = 1;
    }
    const user = d.last<string[]>('user');
    if (this.unknownUser(d, `Unable to set uid/gid for script '${script.argv.join(' ')}' - removing`)) return;
    if (!user && this.scriptUserFailed) {
      this.report(
        'KA_ERR_CONF_UNDEFINED_REF',
        KaClass.GeneralError,
        nd.node.pos,
        'vrrp_script',
        `Unable to set default user for vrrp script ${name} - removing`,
        'a valid script_user or a user for the script',
      );
      return;
    }
    const cmd: Command = user?.[0] ? { ...script, user: user[0], group: user[1] } : script;
    const { weight, reverse } = this.weightOf(d.entry('weight'), 253, 0);
    if (this.scripts.has(name)) {
      this.report(
        'KA_ERR_CONF_DUPLICATE',
        KaClass.GeneralError,
        nd.node.pos,
        'vrrp_script',
        `vrrp_script ${name} defined twice - ignoring the later one`,
        'unique names',
      );
      return;
    }
    this.scripts.set(name, {
      name,
      script: cmd,
      interval,
      timeout: d.last<number>('timeout') || interval,
      weight,
      weightReverse: reverse,
      rise: d.last<number>('rise') ?? 1,
      fall: d.last<number>('fall') ?? 1,
      initFail: d.last<boolean>('init_fail') ?? false,
      pos: nd.node.pos,
    });
    this.commands.push({ cmd, kind: 'track', owner: `vrrp_script ${name}`, side: 'vrrp' });
  }

  private finishTrackFile(nd: NamedDraft): void {
    const name = this.nameOf(nd, 'track_file');
    if (!name) return;
    const d = nd.d;
    const file = this.required<string>(nd, 'file', 'track_file', name);
    if (!file) return;
    const { weight, reverse } = this.weightOf(d.entry('weight'), 254, 1);
    const init = d.entry('init_file');
    let initFile: TrackFile['initFile'];
    if (init) {
      const w = init.value as string[];
      const v = w[0] !== undefined && w[0] !== 'overwrite' ? parseIntStrict(w[0]) : 0;
      if (v === undefined)
        this.report(
          'KA_ERR_CONF_BAD_NUMBER',
          KaClass.InvalidNumber,
          init.node.args[0]?.pos,
          'init_file',
          `invalid value '${w[0]}'`,
          'an integer',
        );
      else {
        if (v < -254 || v > 254)
          this.report(
            'KA_ERR_CONF_BAD_VALUE',
            KaClass.GeneralError,
            init.node.args[0]?.pos,
            'init_file',
            `Track file ${name} init value ${v} is outside sensible range [-254, 254]`,
            'an integer in [-254, 254]',
          );
        initFile = { value: v, overwrite: w.includes('overwrite') };
      }
    }
    this.trackFiles.set(name, { name, file, weight, weightReverse: reverse, initFile, pos: nd.node.pos });
  }

  private finishTrackProcess(nd: NamedDraft): void {
    const name = this.nameOf(nd, 'vrrp_track_process');
    if (!name) return;
    const d = nd.d;
    const proc = this.required<string[]>(nd, 'process', 'vrrp_track_process', name);
    if (!proc?.[0]) return;
    const { weight, reverse } = this.weightOf(d.entry('weight'), 254, 1);
    const delay = d.last<number>('delay');
    this.trackProcs.set(name, {
      name,
      process: proc[0],
      args: proc.length > 1 ? proc.slice(1) : undefined,
      paramMatch: d.last<'initial' | 'partial'>('param_match') ?? 'exact',
      weight,
      weightReverse: reverse,
      quorum: d.last<number>('quorum') ?? 1,
      quorumMax: d.last<number>('quorum_max'),
      forkDelay: d.last<number>('fork_delay') ?? delay ?? 0,
      terminateDelay: d.last<number>('terminate_delay') ?? delay ?? 0,
      fullCommand: d.last<boolean>('full_command') ?? false,
      pos: nd.node.pos,
    });
  }

  private finishBfd(nd: NamedDraft): void {
    const name = this.nameOf(nd, 'bfd_instance');
    if (!name) return;
    const d = nd.d;
    const nb = this.required<{ address: string }>(nd, 'neighbor_ip', 'bfd_instance', name);
    if (!nb) return;
    const sourceIp = d.last<{ address: string }>('source_ip')?.address;
    if (sourceIp !== undefined && sourceIp.includes(':') !== nb.address.includes(':')) {
      this.report(
        'KA_ERR_CONF_CONFLICT',
        KaClass.GeneralError,
        d.entry('source_ip')!.node.pos,
        'source_ip',
        `BFD instance ${name} source address ${sourceIp} and neighbor address ${nb.address} are not of the same family, disabling instance`,
        "a source_ip of the neighbor's family",
      );
      return;
    }
    // keepalived 2.2.7 finds a session by its neighbour (and source) address: no two may share them
    const clash = [...this.bfds.values()].some(
      (b) =>
        b.neighborIp === nb.address &&
        (sourceIp === undefined || b.sourceIp === undefined || b.sourceIp === sourceIp),
    );
    if (clash) {
      this.report(
        'KA_ERR_CONF_DUPLICATE',
        KaClass.GeneralError,
        d.entry('neighbor_ip')!.node.pos,
        'neighbor_ip',
        sourceIp === undefined
          ? `BFD instance ${name} has duplicate neighbor address ${nb.address}, ignoring instance`
          : `BFD instance ${name} has duplicate source/neighbor address ${sourceIp}/${nb.address}, ignoring instance`,
        'a neighbor (and source) address no other bfd_instance uses',
      );
      return;
    }
    const { weight, reverse } = this.weightOf(d.entry('weight'), 253, 0);
    // keepalived (bfd_parser.c, end of block): ttl 255 for an IPv4 neighbour, hop limit 64 for IPv6;
    // a max_hops above it is an error and is lowered to it
    const ttl = d.last<number>('ttl') ?? (nb.address.includes(':') ? 64 : 255);
    let maxHops = d.last<number>('max_hops') ?? 0;
    if (maxHops > ttl) {
      this.report(
        'KA_ERR_CONF_BAD_VALUE',
        KaClass.GeneralError,
        d.entry('max_hops')!.node.pos,
        'max_hops',
        `BFD instance ${name}: max_hops exceeds ttl/hoplimit - setting to ttl/hoplimit`,
        `max_hops <= ${ttl}`,
      );
      maxHops = ttl;
    }
    this.bfds.set(name, {
      name,
      neighborIp: nb.address,
      sourceIp,
      minRx: d.last<number>('min_rx') ?? 10,
      minTx: d.last<number>('min_tx') ?? 10,
      idleTx: d.last<number>('idle_tx') ?? 1000,
      multiplier: d.last<number>('multiplier') ?? 5,
      passive: d.last<boolean>('passive') ?? false,
      ttl,
      maxHops,
      weight,
      weightReverse: reverse,
      deliverTo:
        d.has('vrrp') && !d.has('checker') ? 'vrrp' : d.has('checker') && !d.has('vrrp') ? 'checker' : 'both',
      pos: nd.node.pos,
    });
  }

  private tracking(d: Draft, owner: string): Tracking {
    const resolve = (
      key: string,
      known: ReadonlyMap<string, unknown> | undefined,
      what: string,
    ): TrackRef[] => {
      const out: TrackRef[] = [];
      for (const t of d.items<TrackRef>(key)) {
        if (known && !known.has(t.name)) {
          this.report(
            'KA_ERR_CONF_UNDEFINED_REF',
            KaClass.GeneralError,
            t.pos,
            key,
            `(${owner}) ${what} ${t.name} not found, ignoring...`,
            `a ${what} defined before ${owner}`,
          );
          continue;
        }
        if (!known) this.checkIf(t.name, t.pos, `track_interface of ${owner}`);
        out.push(t);
      }
      return out;
    };
    return {
      interfaces: resolve('track_interface', undefined, 'interface'),
      scripts: resolve('track_script', this.scripts, 'track script'),
      files: resolve('track_file', this.trackFiles, 'track file'),
      processes: resolve('track_process', this.trackProcs, 'track process'),
      bfds: resolve('track_bfd', this.bfds, 'track bfd'),
    };
  }

  private notify(d: Draft, owner: string): NotifyScripts {
    const get = (k: string): Command | undefined => {
      const c = d.last<Command>(k);
      if (c) this.commands.push({ cmd: c, kind: 'notify', owner, side: 'vrrp' });
      return c;
    };
    const del = d.entry('notify_deleted');
    let deleted: Command | boolean = false;
    if (del) {
      const w = del.value as string[];
      deleted = w[0] ? makeCommand(w[0], w[1], w[2], del.node.args[0]!.pos) : true;
      if (typeof deleted !== 'boolean')
        this.commands.push({ cmd: deleted, kind: 'notify', owner, side: 'vrrp' });
    }
    return {
      master: get('notify_master'),
      backup: get('notify_backup'),
      fault: get('notify_fault'),
      stop: get('notify_stop'),
      deleted,
      generic: get('notify'),
      masterRxLowerPri: get('notify_master_rx_lower_pri'),
    };
  }

  /** False after reporting a configured interface this machine lacks. */
  private checkIf(name: string | undefined, pos: SrcPos, what: string): boolean {
    // an empty name ("") is looked up too, and fails, as in keepalived
    if (name === undefined || !this.opts.interfaceExists) return true;
    // dynamic_interfaces: interfaces may come later; keepalived 2.2.7 reports none missing (-t exits 0)
    if ((this.global as GlobalDefs | undefined)?.dynamicInterfaces) return true;
    if (!this.opts.interfaceExists(name)) {
      // keepalived's VRRP process stops at a missing interface, before its script checks
      this.vrrpBadIf = true;
      this.report(
        'KA_ERR_CONF_NO_INTERFACE',
        KaClass.GeneralError,
        pos,
        name,
        `WARNING - interface ${name} for ${what} doesn't exist`,
        'an existing interface',
      );
      return false;
    }
    return true;
  }

  // ---- vrrp_instance ----

  private finishInstance(nd: NamedDraft): void {
    const name = this.nameOf(nd, 'vrrp_instance');
    if (!name) return;
    const d = nd.d;
    const g = this.global;
    const pos = nd.node.pos;
    if (this.instanceByName.has(name)) {
      this.report(
        'KA_ERR_CONF_DUPLICATE',
        KaClass.GeneralError,
        pos,
        'vrrp_instance',
        `vrrp_instance ${name} defined twice - ignoring the later one`,
        'unique instance names',
      );
      return;
    }
    // VRID: required, 1..255
    let vrid: number | undefined;
    const ve = d.entry('virtual_router_id');
    if (ve) {
      const w = (ve.value as string[])[0];
      const first = w === undefined ? undefined : unsignedComplaint(w, 1, 255);
      if (w === undefined || first) {
        const at = ve.node.args[0]?.pos ?? ve.node.pos;
        // keepalived: its number reader's message, then the instance's
        if (first)
          this.report('KA_ERR_CONF_BAD_NUMBER', KaClass.InvalidNumber, at, 'virtual_router_id', first);
        this.report(
          'KA_ERR_CONF_BAD_NUMBER',
          KaClass.InvalidNumber,
          at,
          'virtual_router_id',
          `(${name}): VRID '${w ?? ''}' not valid - must be between 1 & 255`,
          'an integer in [1, 255]',
        );
      } else vrid = Number(w);
    }
    if (vrid === undefined) {
      this.report(
        'KA_ERR_CONF_MISSING_REQUIRED',
        KaClass.GeneralError,
        pos,
        'virtual_router_id',
        `(${name}) the virtual router id must be set - removing the instance`,
        'virtual_router_id 1..255',
      );
      return;
    }
    // priority and state (state MASTER without priority means 255, as keepalived does)
    const stateE = d.entry('state');
    let state: 'MASTER' | 'BACKUP' | undefined;
    if (stateE) {
      const s = stateE.value as string;
      if (s === 'MASTER' || s === 'BACKUP') state = s;
      else
        this.report(
          'KA_ERR_CONF_BAD_VALUE',
          KaClass.GeneralError,
          stateE.node.args[0]?.pos,
          'state',
          `(${name}) unknown state '${s}' - defaulting to BACKUP`,
          'MASTER|BACKUP',
        );
    }
    let priority: number | undefined;
    const pe = d.entry('priority');
    if (pe) {
      const w = (pe.value as string[])[0];
      const first = w === undefined ? undefined : unsignedComplaint(w, 1, 255);
      if (w === undefined || first) {
        const at = pe.node.args[0]?.pos ?? pe.node.pos;
        // keepalived: its number reader's message, then the instance's (which names no value)
        if (first) this.report('KA_ERR_CONF_BAD_NUMBER', KaClass.InvalidNumber, at, 'priority', first);
        this.report(
          'KA_ERR_CONF_BAD_NUMBER',
          KaClass.InvalidNumber,
          at,
          'priority',
          `(${name}) Priority not valid! must be between 1 & 255. Using default 100`,
          'an integer in [1, 255]',
        );
        priority = 100;
      } else priority = Number(w);
    }
    if (priority === undefined) priority = state === 'MASTER' ? 255 : 100;
    state = state ?? (priority === 255 ? 'MASTER' : 'BACKUP');
    // addresses
    const vips = d.items<AddressSpec>('virtual_ipaddress');
    const family: Family = vips[0]?.family ?? d.last<{ family: Family }>('mcast_src_ip')?.family ?? 'inet';
    const goodVips: AddressSpec[] = [];
    for (const a of vips) {
      if (a.family !== family) {
        this.report(
          'KA_ERR_CONF_BAD_ADDRESS',
          KaClass.GeneralError,
          a.pos,
          'virtual_ipaddress',
          `(${name}): address family must match VRRP instance [${a.address}/${a.prefix}] - ignoring`,
          `an ${family === 'inet' ? 'IPv4' : 'IPv6'} address`,
        );
        continue;
      }
      goodVips.push(a);
    }
    const excluded = d.items<AddressSpec>('virtual_ipaddress_excluded');
    // version and advert interval
    let version = (d.last<number>('version') ?? g.vrrpVersion) as 2 | 3;
    if (family === 'inet6') version = 3;
    let advert = 1;
    const ae = d.entry('advert_int');
    if (ae) {
      const w = (ae.value as string[])[0];
      const v = w === undefined ? undefined : parseDecimal(w);
      const [min, max] = version === 2 ? [1, 255] : [0.01, 255];
      if (v === undefined || v < (version === 2 ? 0.5 : min) || v > max) {
        this.report(
          'KA_ERR_CONF_BAD_NUMBER',
          KaClass.InvalidNumber,
          ae.node.args[0]?.pos ?? ae.node.pos,
          'advert_int',
          `(${name}) advert_int '${w ?? ''}' invalid or outside range [${min}, ${max}] - using 1`,
          `seconds in [${min}, ${max}]`,
        );
      } else if (version === 2 && !Number.isInteger(v)) {
        advert = Math.max(1, Math.round(v));
        this.report(
          'KA_ERR_CONF_BAD_NUMBER',
          KaClass.GeneralError,
          ae.node.args[0]!.pos,
          'advert_int',
          `(${name}) VRRPv2 advertisement interval ${v.toFixed(6)}s must be an integer. rounding`,
          'whole seconds with version 2',
        );
      } else if (version === 3 && Math.round(v * 100) > 4095) {
        // keepalived 2.2.7 caps a VRRPv3 interval at the 12-bit field's maximum
        advert = 40.95;
        this.report(
          'KA_ERR_CONF_BAD_NUMBER',
          KaClass.GeneralError,
          ae.node.args[0]!.pos,
          'advert_int',
          `(${name}) VRRPv3 advertisement interval ${v.toFixed(2)}s is out of range. Must be less than 40.96s. Setting to 40.95s`,
          'seconds in [0.01, 40.95] with version 3',
        );
      } else advert = version === 2 ? v : Math.round(v * 100) / 100;
    }
    // interface
    const iface = d.last<string>('interface');
    const ifPos = d.entry('interface')?.node.args[0]?.pos ?? pos;
    if (iface === 'lo') {
      this.report(
        'KA_ERR_CONF_BAD_VALUE',
        KaClass.GeneralError,
        ifPos,
        'interface',
        `(${name}) cannot use a loopback interface - ignoring`,
        'a non-loopback interface',
      );
    }
    this.checkIf(iface, ifPos, `vrrp_instance ${name}`);
    for (const a of [...goodVips, ...excluded])
      this.checkIf(a.dev, a.pos, `ip address ${a.address}/${a.prefix}`);
    // unicast peers
    const peers: UnicastPeer[] = [];
    for (const p of d.items<UnicastPeer & { family: Family; pos: SrcPos }>('unicast_peer')) {
      if (p.family !== family) {
        this.report(
          'KA_ERR_CONF_BAD_ADDRESS',
          KaClass.GeneralError,
          p.pos,
          'unicast_peer',
          `(${name}) unicast peer ${p.address} family does not match the instance`,
          `an ${family === 'inet' ? 'IPv4' : 'IPv6'} peer`,
        );
        continue;
      }
      peers.push({ address: p.address, minTtl: p.minTtl, maxTtl: p.maxTtl });
    }
    if (!peers.length) {
      // keepalived 2.2.7 falls back to multicast and says so
      const ttlE = d.entry('unicast_ttl');
      if (ttlE) {
        this.report(
          'KA_ERR_CONF_CONFLICT',
          KaClass.GeneralError,
          ttlE.node.pos,
          'unicast_ttl',
          `(${name}): Cannot use unicast_ttl without unicast peers - resetting`,
          'unicast_peer entries',
        );
        d.delete('unicast_ttl');
      }
      const uniE = ['unicast_peer', 'check_unicast_src', 'old_unicast_checksum']
        .map((k) => d.entry(k))
        .find((e) => e);
      if (uniE)
        this.report(
          'KA_ERR_CONF_CONFLICT',
          KaClass.GeneralError,
          uniE.node.pos,
          uniE.node.keyword,
          `(${name}) A unicast keyword has been specified without any unicast peers. Defaulting to multicast.`,
          'unicast_peer entries',
        );
    }
    // authentication
    let auth: VrrpInstance['authentication'];
    const authE = d.entry('authentication');
    if (authE) {
      const ad = (authE.value as NamedDraft).d;
      const type = ad.last<'PASS' | 'AH'>('auth_type');
      let pass = ad.last<string>('auth_pass') ?? '';
      if (pass.length > 8) {
        this.report(
          'KA_ERR_CONF_BAD_VALUE',
          KaClass.GeneralError,
          ad.entry('auth_pass')!.node.args[0]!.pos,
          'auth_pass',
          'Truncating auth_pass to 8 characters',
          'at most 8 characters',
        );
        pass = pass.slice(0, 8);
      }
      // keepalived records nothing for an empty authentication block
      if (!type && authE.node.children?.length === 0) {
        // nothing
      } else if (!type) {
        this.report(
          'KA_ERR_CONF_MISSING_ARG',
          KaClass.GeneralError,
          authE.node.pos,
          'authentication',
          `(${name}) authentication without auth_type - ignoring`,
          'auth_type PASS|AH',
        );
      } else if (pass === '') {
        this.report(
          'KA_ERR_CONF_MISSING_ARG',
          KaClass.GeneralError,
          authE.node.pos,
          'authentication',
          `(${name}) Authentication specified but no password given. Ignoring`,
          'auth_pass PASSWORD',
        );
      } else if (version === 3) {
        this.report(
          'KA_ERR_CONF_CONFLICT',
          KaClass.GeneralError,
          authE.node.pos,
          'authentication',
          `(${name}) authentication is not supported with VRRPv3 - ignoring`,
          'no authentication with version 3',
        );
      } else auth = { type, pass };
    }
    const strict = d.last<boolean>('strict_mode') ?? g.vrrpStrict;
    if (strict && state === 'MASTER' && priority !== 255) {
      // keepalived 2.2.7 starts a non-owner in BACKUP under strict mode
      this.report(
        'KA_ERR_CONF_CONFLICT',
        KaClass.GeneralError,
        stateE?.node.pos ?? pos,
        'state',
        `(${name}) State MASTER must match being address owner`,
        'state BACKUP, or priority 255',
      );
      state = 'BACKUP';
    }
    if (auth?.type === 'AH' && !strict && state === 'MASTER' && priority !== 255) {
      // keepalived 2.2.7 keeps AH and drops the initial MASTER state (the instance starts as BACKUP)
      this.report(
        'KA_ERR_CONF_CONFLICT',
        KaClass.GeneralError,
        stateE?.node.pos ?? pos,
        'state',
        `(${name}) Initial state master is incompatible with AH authentication - clearing`,
        'state BACKUP with auth_type AH',
      );
      state = 'BACKUP';
    }
    // preemption
    let nopreempt = d.has('nopreempt');
    if (nopreempt && priority === 255) {
      this.report(
        'KA_ERR_CONF_CONFLICT',
        KaClass.GeneralError,
        d.entry('nopreempt')!.node.pos,
        'nopreempt',
        `(${name}) nopreempt is incompatible with priority 255. resetting nopreempt`,
        'a priority below 255',
      );
      nopreempt = false;
    }
    const tracking = this.tracking(d, name);
    if (priority === 255) {
      for (const t of [
        ...tracking.interfaces,
        ...tracking.scripts,
        ...tracking.files,
        ...tracking.processes,
        ...tracking.bfds,
      ]) {
        if (t.weight) {
          this.report(
            'KA_ERR_CONF_CONFLICT',
            KaClass.GeneralError,
            t.pos,
            t.name,
            `(${name}) cannot have weighted tracking with priority 255 - setting weight 0`,
            'weight 0 for an address owner',
          );
        }
      }
    }
    if (strict && auth) {
      this.report(
        'KA_ERR_CONF_CONFLICT',
        KaClass.GeneralError,
        authE!.node.pos,
        'authentication',
        `(${name}) Strict mode does not support authentication. Ignoring.`,
        'no authentication in strict mode',
      );
      auth = undefined;
    }
    if (goodVips.length === 0) {
      const required = version === 3 || strict;
      this.report(
        'KA_ERR_CONF_MISSING_REQUIRED',
        KaClass.GeneralError,
        pos,
        'virtual_ipaddress',
        `(${name}) No VIP specified; at least one is ${required ? 'required' : 'sensible'}`,
        'a virtual_ipaddress block',
      );
    }
    for (const r of d.items<RouteSpec>('virtual_routes')) {
      if (!r.dev && !r.noTrack) {
        // keepalived's "Warning": the route stays, untracked; the config test still exits 5
        this.report(
          'KA_ERR_CONF_BAD_VALUE',
          KaClass.Warning,
          r.pos,
          'virtual_routes',
          `Warning - cannot track route ${r.to} with no interface specified, not tracking`,
          "'dev IF' or 'no_track'",
        );
      } else if (r.dev) this.checkIf(r.dev, r.pos, `route ${r.to}`);
    }
    const vmac = d.last<string[]>('use_vmac');
    this.vmacNames(d.all('use_vmac'));
    const ipvlan = d.last<string[]>('use_ipvlan');
    // dependencies keepalived 2.2.7 checks after reading the instance
    const xmitE = d.entry('vmac_xmit_base');
    if (xmitE && !vmac) {
      this.report(
        'KA_ERR_CONF_CONFLICT',
        KaClass.GeneralError,
        xmitE.node.pos,
        'vmac_xmit_base',
        `(${name}) vmac_xmit_base is only valid with a vmac`,
        "'use_vmac'",
      );
      d.delete('vmac_xmit_base');
    }
    if (ipvlan && family === 'inet' && !d.has('mcast_src_ip'))
      this.report(
        'KA_ERR_CONF_CONFLICT',
        KaClass.GeneralError,
        d.entry('use_ipvlan')!.node.pos,
        'use_ipvlan',
        `(${name}) IPv4 ipvlan requires a source ip address to be configured`,
        "'mcast_src_ip' or 'unicast_src_ip'",
      );
    const vrfE = d.entry('vrf');
    if (vrfE && d.has('interface')) {
      this.report(
        'KA_ERR_CONF_CONFLICT',
        KaClass.GeneralError,
        vrfE.node.pos,
        'vrf',
        `(${name}) Cannot specify VRF interface and interface - ignoring`,
        "'vrf' or 'interface'",
      );
      d.delete('vrf');
    }
    const extra = d.entry('garp_extra_if');
    const oldCs = d.last<string[]>('old_unicast_checksum');
    const inst: Mutable<VrrpInstance> = {
      name,
      state,
      interface: iface ?? (peers.length ? undefined : g.defaultInterface),
      vrf: d.last<string>('vrf'),
      vrid,
      priority,
      version,
      family,
      advertInt: advert,
      advertIntCs: Math.round(advert * 100),
      nopreempt,
      preemptDelay: d.last<number>('preempt_delay') ?? 0,
      accept: d.has('no_accept') ? false : d.has('accept') ? true : !(strict && priority !== 255),
      strict,
      mcastSrcIp: d.last<{ address: string }>('mcast_src_ip')?.address,
      mcastDstIp: d.last<{ address: string }>('mcast_dst_ip')?.address,
      unicastPeers: peers,
      unicastTtl: d.last<number>('unicast_ttl') ?? 255,
      unicastFaultNoPeer: d.has('unicast_fault_no_peer'),
      checkUnicastSrc: d.has('check_unicast_src') || g.vrrpCheckUnicastSrc,
      oldUnicastChecksum: oldCs ? (oldCs[0] === 'never' ? 'never' : true) : 'auto',
      authentication: auth,
      virtualIpaddress: goodVips,
      virtualIpaddressExcluded: excluded,
      virtualRoutes: d.items<RouteSpec>('virtual_routes'),
      virtualRules: this.checkRules(d.items<RuleSpec>('virtual_rules'), 'virtual_rules'),
      tracking,
      dontTrackPrimary: d.has('dont_track_primary'),
      trackSrcIp: d.has('track_src_ip'),
      notify: this.notify(d, name),
      notifyPriorityChanges: d.last<boolean>('notify_priority_changes') ?? g.vrrpNotifyPriorityChanges,
      smtpAlert: d.last<boolean>('smtp_alert') ?? g.smtpAlertVrrp ?? g.smtpAlert,
      garp: this.instanceGarp(d, name, g.garp, strict),
      garpExtraIf: extra ? this.garpExtraIf(extra, 0) : g.vrrpGarpExtraIf,
      downTimerAdverts: d.last<number>('down_timer_adverts') ?? g.vrrpDownTimerAdverts,
      lowerPrioNoAdvert: d.last<boolean>('lower_prio_no_advert') ?? g.vrrpLowerPrioNoAdvert ?? strict,
      higherPrioSendAdvert: d.last<boolean>('higher_prio_send_advert') ?? g.vrrpHigherPrioSendAdvert,
      skipCheckAdvAddr: d.last<boolean>('skip_check_adv_addr') ?? g.vrrpSkipCheckAdvAddr,
      useVmac: vmac
        ? {
            ifname: vmac.find((w) => !/^([0-9a-f]{2}:){4,5}[0-9a-f]{2}$/i.test(w)),
            mac: vmac.find((w) => /^([0-9a-f]{2}:){4,5}[0-9a-f]{2}$/i.test(w)),
          }
        : undefined,
      useVmacAddr: d.has('use_vmac_addr'),
      vmacXmitBase: d.has('vmac_xmit_base'),
      useIpvlan: ipvlan
        ? {
            ifname: ipvlan[0],
            address: ipvlan.find((w) => parseIp(w.split('/')[0]!) !== undefined),
            mode: ipvlan.find((w) => ['bridge', 'private', 'vepa'].includes(w)),
          }
        : undefined,
      promoteSecondaries: this.promoteSecondaries(d, name, vmac !== undefined),
      kernelRxBufSize: d.last<number>('kernel_rx_buf_size'),
      syncGroup: undefined,
      pos,
    };
    this.instances.push(inst);
    this.instanceByName.set(inst.name, inst);
  }

  /** `use_vmac [NAME]`: one name per instance, a valid interface name (keepalived 2.2.7 checks both). */
  private vmacNames(entries: readonly Entry[]): void {
    let named = false;
    for (const e of entries) {
      for (const w of e.node.args) {
        if (named) {
          this.report(
            'KA_ERR_CONF_BAD_VALUE',
            KaClass.GeneralError,
            w.pos,
            'use_vmac',
            'VMAC interface name already specified',
            'one use_vmac name',
          );
          continue;
        }
        named = true;
        if (!/^[^\s/:]{1,15}$/.test(w.text) || w.text === '.' || w.text === '..')
          this.report(
            'KA_ERR_CONF_BAD_VALUE',
            KaClass.GeneralError,
            w.pos,
            'use_vmac',
            `VMAC interface name '${w.text}' too long or invalid characters - ignoring`,
            'an interface name of 1 to 15 characters',
          );
      }
    }
  }

  private checkDuplicateVrids(): void {
    const seen = new Map<string, string>();
    for (const i of this.instances) {
      if (i.unicastPeers.length) continue;
      const key = `${i.vrid}|${i.family}|${i.interface}|${i.mcastDstIp ?? ''}`;
      const prior = seen.get(key);
      if (prior) {
        this.report(
          'KA_ERR_CONF_DUPLICATE',
          KaClass.GeneralError,
          i.pos,
          'virtual_router_id',
          `${prior} and ${i.name} both use VRID ${i.vrid} with ${i.family === 'inet' ? 'IPv4' : 'IPv6'} on interface ${i.interface}`,
          'a VRID unique per interface and family',
        );
      } else seen.set(key, i.name);
    }
  }

  // ---- sync groups ----

  private finishedGroups: SyncGroup[] = [];

  private finishSyncGroups(): void {
    for (const { nd, members } of this.groups) {
      const name = this.nameOf(nd, 'vrrp_sync_group');
      if (!name) continue;
      const found: string[] = [];
      for (const m of members) {
        const inst = this.instanceByName.get(m.name);
        if (!inst) {
          this.report(
            'KA_ERR_CONF_UNDEFINED_REF',
            KaClass.GeneralError,
            m.pos,
            'group',
            `Virtual router ${m.name} specified in sync group ${name} doesn't exist - ignoring`,
            'the name of a vrrp_instance',
          );
          continue;
        }
        if (inst.syncGroup) {
          this.report(
            'KA_ERR_CONF_DUPLICATE',
            KaClass.GeneralError,
            m.pos,
            'group',
            `VRRP instance ${m.name} cannot be in more than one sync group`,
            'each instance in one group',
          );
          continue;
        }
        inst.syncGroup = name;
        found.push(m.name);
      }
      if (found.length === 0) {
        this.report(
          'KA_ERR_CONF_MISSING_REQUIRED',
          KaClass.GeneralError,
          nd.node.pos,
          'vrrp_sync_group',
          `Sync group ${name} has no virtual router(s) - removing`,
          'a group { … } block naming instances',
        );
        continue;
      }
      if (found.length === 1) {
        this.report(
          'KA_ERR_CONF_MISSING_REQUIRED',
          KaClass.GeneralError,
          nd.node.pos,
          'vrrp_sync_group',
          `Sync group ${name} has only 1 virtual router - this probably isn't what you want`,
          'two or more members',
        );
      }
      this.finishedGroups.push({
        name,
        members: found,
        tracking: this.tracking(nd.d, name),
        notify: this.notify(nd.d, name),
        smtpAlert: nd.d.last<boolean>('smtp_alert'),
        notifyPriorityChanges: nd.d.last<boolean>('notify_priority_changes'),
        syncGroupTrackingWeight: nd.d.has('sync_group_tracking_weight'),
        pos: nd.node.pos,
      });
    }
  }

  // ---- LVS ----

  private lbKind(e: Entry | undefined): LbKind | undefined {
    if (!e) return undefined;
    const w = e.value as string[];
    const m = w[0]?.toUpperCase();
    if (m !== 'NAT' && m !== 'DR' && m !== 'TUN') {
      this.report(
        'KA_ERR_CONF_BAD_VALUE',
        KaClass.GeneralError,
        e.node.args[0]?.pos ?? e.node.pos,
        e.node.keyword,
        `invalid forwarding method '${w[0] ?? ''}'`,
        'NAT|DR|TUN',
      );
      return undefined;
    }
    if (m !== 'TUN' || w.length === 1) return { method: m, tunnel: undefined };
    let type: 'ipip' | 'gue' | 'gre' = 'ipip';
    let port: number | undefined;
    let csum: 'nocsum' | 'csum' | 'remcsum' | undefined;
    for (let i = 1; i < w.length; i++) {
      const k = w[i]!;
      if (k === 'type') {
        const t = w[++i];
        if (t !== 'ipip' && t !== 'gue' && t !== 'gre') {
          this.report(
            'KA_ERR_CONF_BAD_VALUE',
            KaClass.GeneralError,
            e.node.args[i]?.pos ?? e.node.pos,
            'type',
            `invalid tunnel type '${t ?? ''}'`,
            'ipip|gue|gre',
          );
          return undefined;
        }
        type = t;
      } else if (k === 'port') {
        port = parseIntStrict(w[++i] ?? '');
        if (port === undefined || port < 1 || port > 65535) {
          this.report(
            'KA_ERR_CONF_BAD_NUMBER',
            KaClass.InvalidNumber,
            e.node.args[i]?.pos ?? e.node.pos,
            'port',
            'invalid tunnel port',
            'a port 1..65535',
          );
          return undefined;
        }
      } else if (k === 'nocsum' || k === 'csum' || k === 'remcsum') csum = k;
    }
    if (type === 'gue' && port === undefined) {
      this.report(
        'KA_ERR_CONF_MISSING_ARG',
        KaClass.MissingParameter,
        e.node.pos,
        e.node.keyword,
        'gue tunnel without port',
        'type gue port N',
      );
      return undefined;
    }
    return { method: 'TUN', tunnel: { type, port, csum } };
  }

  private finishVirtualServers(): VirtualServer[] {
    for (const e of this.top.all('virtual_server_group')) {
      const entries = e.value as VsGroupEntry[];
      const name = e.node.args[0]?.text;
      if (!name) {
        this.report(
          'KA_ERR_CONF_MISSING_ARG',
          KaClass.MissingParameter,
          e.node.pos,
          'virtual_server_group',
          'virtual_server_group without a name',
          'virtual_server_group NAME {',
        );
        continue;
      }
      if (entries.length === 0) {
        this.report(
          'KA_ERR_CONF_MISSING_REQUIRED',
          KaClass.GeneralError,
          e.node.pos,
          'virtual_server_group',
          `virtual_server_group ${name} is empty - removing`,
          'one or more entries',
        );
        continue;
      }
      this.vsgs.set(name, { name, entries, pos: e.node.pos });
    }
    const out: VirtualServer[] = [];
    const seen = new Set<string>();
    for (const e of this.top.all('virtual_server')) {
      const vs = this.finishVs(e.value as NamedDraft);
      if (!vs) continue;
      const key = `${vs.name}|${vs.protocol}`;
      if (seen.has(key)) {
        this.report(
          'KA_ERR_CONF_DUPLICATE',
          KaClass.GeneralError,
          vs.pos,
          'virtual_server',
          `virtual_server ${vs.name} ${vs.protocol} defined twice - ignoring the later one`,
          'unique virtual servers',
        );
        continue;
      }
      seen.add(key);
      out.push(vs);
    }
    return out;
  }

  private finishVs(nd: NamedDraft): VirtualServer | undefined {
    const n = nd.node;
    const d = nd.d;
    const a = n.args;
    let target: VsTarget;
    let name: string;
    if (!a[0]) {
      this.report(
        'KA_ERR_CONF_MISSING_ARG',
        KaClass.MissingParameter,
        n.pos,
        'virtual_server',
        'virtual_server without address',
        'IP [PORT] | fwmark N | group NAME',
      );
      return undefined;
    }
    if (a[0].text === 'fwmark') {
      const m = parseIntStrict(a[1]?.text ?? '');
      if (m === undefined || m < 1 || m > 4294967295) {
        this.report(
          'KA_ERR_CONF_BAD_NUMBER',
          KaClass.InvalidNumber,
          a[1]?.pos ?? a[0].pos,
          'virtual_server',
          `invalid fwmark '${a[1]?.text ?? ''}' - skipping virtual server`,
          'fwmark 1..4294967295',
        );
        return undefined;
      }
      target = { kind: 'fwmark', fwmark: m };
      name = `fwmark ${m}`;
    } else if (a[0].text === 'group') {
      const g = a[1]?.text;
      if (!g) {
        this.report(
          'KA_ERR_CONF_MISSING_ARG',
          KaClass.MissingParameter,
          a[0].pos,
          'virtual_server',
          'group without a name',
          'group NAME',
        );
        return undefined;
      }
      if (!this.vsgs.has(g)) {
        // keepalived drops the service without recording an error (config test exit 0)
        this.report(
          'KA_ERR_CONF_UNDEFINED_REF',
          KaClass.None,
          a[1]!.pos,
          'virtual_server',
          `virtual_server_group ${g} not defined - skipping virtual server`,
          'a defined virtual_server_group',
        );
        return undefined;
      }
      target = { kind: 'group', name: g };
      name = `group ${g}`;
    } else {
      const ip = parseIp(a[0].text);
      if (!ip) {
        this.report(
          'KA_ERR_CONF_BAD_ADDRESS',
          KaClass.GeneralError,
          a[0].pos,
          'virtual_server',
          `invalid virtual server address '${a[0].text}' - skipping`,
          'IP [PORT] | fwmark N | group NAME',
        );
        return undefined;
      }
      let port: number | undefined;
      if (a[1]) {
        port = parseIntStrict(a[1].text);
        if (port === undefined || port < 0 || port > 65535) {
          this.report(
            'KA_ERR_CONF_BAD_NUMBER',
            KaClass.InvalidNumber,
            a[1].pos,
            'virtual_server',
            `invalid port '${a[1].text}' - skipping`,
            'a port 0..65535',
          );
          return undefined;
        }
      }
      target = { kind: 'addr', addr: ip.address, port, family: ip.family };
      name = port === undefined ? ip.address : `${ip.address} ${port}`;
    }
    const protoE = d.entry('protocol');
    // keepalived 2.2.7 checks the protocol of address services only (after its real-server check);
    // a fwmark service keeps TCP in the model, unused by IPVS
    const byAddr =
      target.kind === 'addr' ||
      (target.kind === 'group' &&
        (this.vsgs.get(target.name)?.entries.some((x) => x.kind === 'addr') ?? false));
    const noProtocol = !protoE && byAddr;
    let protocol = (d.last<string>('protocol')?.toUpperCase() ??
      (byAddr ? 'UDP' : 'TCP')) as VirtualServer['protocol'];
    if (target.kind === 'fwmark' && protoE) {
      this.report(
        'KA_ERR_CONF_CONFLICT',
        KaClass.GeneralError,
        protoE.node.pos,
        'protocol',
        `Virtual server ${name}: protocol specified for fwmark - ignoring`,
        'no protocol with fwmark',
      );
      protocol = 'TCP';
    }
    let sched = d.last<string>('lvs_sched') ?? 'wlc';
    if (!SCHEDULERS.includes(sched)) {
      this.report(
        'KA_ERR_CONF_BAD_VALUE',
        KaClass.GeneralError,
        d.entry('lvs_sched')!.node.args[0]?.pos,
        'lvs_sched',
        `unknown scheduler '${sched}' - using wlc`,
        SCHEDULERS.join('|'),
      );
      sched = 'wlc';
    }
    if (!d.has('lvs_method'))
      // keepalived 2.2.7 counts this as a configuration error (-t exits 5)
      this.report(
        'KA_ERR_CONF_MISSING_REQUIRED',
        KaClass.GeneralError,
        nd.node.pos,
        'virtual_server',
        `(${nd.node.args.map((w) => w.text).join(' ')}) no forwarding method set, setting default NAT`,
        "'lvs_method NAT|DR|TUN'",
      );
    const lvsMethod = this.lbKind(d.entry('lvs_method')) ?? { method: 'NAT', tunnel: undefined };
    let persistenceTimeout: number | undefined;
    const pt = d.entry('persistence_timeout');
    if (pt) {
      const w = (pt.value as string[])[0];
      const v = w === undefined ? 360 : parseIntStrict(w);
      if (v === undefined || v < 1 || v > 2678400)
        this.report(
          'KA_ERR_CONF_BAD_NUMBER',
          KaClass.InvalidNumber,
          pt.node.args[0]?.pos,
          'persistence_timeout',
          `invalid persistence_timeout '${w}'`,
          'seconds 1..2678400',
        );
      else persistenceTimeout = v;
    }
    let gran = d.last<string>('persistence_granularity');
    if (gran !== undefined) {
      // keepalived 2.2.7: an IPv4 mask as getaddrinfo reads a numeric host (inet_aton forms), an
      // IPv6 prefix length 1..128; the family is the service's, else guessed from a '.'
      const fam = target.kind === 'addr' ? target.family : gran.includes('.') ? 'inet' : 'inet6';
      const v6 = parseIntStrict(gran);
      const ok =
        fam === 'inet' ? inetAton(gran) : /^\d+$/.test(gran) && v6 !== undefined && v6 >= 1 && v6 <= 128;
      if (!ok) {
        this.report(
          'KA_ERR_CONF_BAD_VALUE',
          KaClass.GeneralError,
          d.entry('persistence_granularity')!.node.args[0]?.pos,
          'persistence_granularity',
          `Invalid ${fam === 'inet' ? 'IPv4' : 'IPv6'} persistence_granularity specified - ${gran}`,
          fam === 'inet' ? 'an IPv4 netmask' : 'a prefix length 1..128',
        );
        gran = undefined;
      }
    }
    if (gran !== undefined && persistenceTimeout === undefined) persistenceTimeout = 360;
    let sorry: Mutable<NonNullable<VirtualServer['sorryServer']>> | undefined;
    const se = d.entry('sorry_server');
    // keepalived 2.2.7 applies these only after (in file order) the keyword they depend on
    for (const [key, dep] of [
      ['sorry_server_inhibit', 'sorry_server'],
      ['sorry_server_lvs_method', 'sorry_server'],
    ] as const) {
      const e = d.entry(key);
      if (e && !(se && earlier(se.node.pos, e.node.pos))) {
        this.report(
          'KA_ERR_CONF_BAD_VALUE',
          KaClass.GeneralError,
          e.node.pos,
          key,
          `${key} used before or without ${dep} - ignoring`,
          `'${dep}' first`,
        );
        d.delete(key);
      }
    }
    if (se) {
      const w = se.value as string[];
      const ip = parseIp(w[0] ?? '');
      const port = w[1] === undefined ? undefined : parseIntStrict(w[1]);
      if (!ip)
        this.report(
          'KA_ERR_CONF_BAD_ADDRESS',
          KaClass.GeneralError,
          se.node.args[0]?.pos ?? se.node.pos,
          'sorry_server',
          `invalid sorry_server address '${w[0] ?? ''}'`,
          'IP [PORT]',
        );
      else if (w[1] !== undefined && (port === undefined || port < 0 || port > 65535))
        this.report(
          'KA_ERR_CONF_BAD_NUMBER',
          KaClass.InvalidNumber,
          se.node.args[1]!.pos,
          'sorry_server',
          'invalid sorry_server port',
          'a port 0..65535',
        );
      else
        sorry = {
          address: ip.address,
          port,
          lvsMethod: this.lbKind(d.entry('sorry_server_lvs_method')),
          inhibit: d.has('sorry_server_inhibit'),
        };
    }
    const schedE = d.entry('lvs_sched');
    for (const f of ['sh-port', 'sh-fallback', 'mh-port', 'mh-fallback', 'hashed']) {
      const e = d.entry(f);
      if (!e) continue;
      const v = schedE?.value;
      if (schedE && (v === 'sh' || v === 'mh') && earlier(schedE.node.pos, e.node.pos)) continue;
      this.report(
        'KA_ERR_CONF_BAD_VALUE',
        KaClass.GeneralError,
        e.node.pos,
        f,
        `${f} only applies to sh scheduler - ignoring`,
        "after 'lvs_sched sh' or 'lvs_sched mh'",
      );
      d.delete(f);
    }
    // a firewall-mark service may use one-packet scheduling with any protocol
    if (d.has('ops') && byAddr && protocol !== 'UDP') {
      this.report(
        'KA_ERR_CONF_BAD_VALUE',
        KaClass.GeneralError,
        d.entry('ops')!.node.pos,
        'ops',
        `Virtual server ${name}: one packet scheduling requires UDP - resetting`,
        'protocol UDP',
      );
      d.delete('ops');
    }
    const flags = ['flag-1', 'flag-2', 'flag-3', 'sh-port', 'sh-fallback', 'mh-port', 'mh-fallback'].filter(
      (f) => d.has(f),
    );
    const vs: Mutable<VirtualServer> = {
      name,
      target,
      protocol,
      lvsSched: sched,
      schedFlags: flags,
      lvsMethod,
      ops: d.has('ops'),
      persistenceTimeout,
      persistenceGranularity: gran,
      persistenceEngine: d.last<string>('persistence_engine'),
      ipFamily: d.last<Family>('ip_family'),
      haSuspend: d.has('ha_suspend'),
      virtualhost: d.last<string>('virtualhost'),
      alpha: d.has('alpha'),
      omega: d.has('omega'),
      quorum: d.last<number>('quorum') ?? 1,
      hysteresis: d.last<number>('hysteresis') ?? 0,
      quorumUp: d.last<Command>('quorum_up'),
      quorumDown: d.last<Command>('quorum_down'),
      sorryServer: sorry,
      connectTimeout: d.last<number>('connect_timeout') ?? 5,
      delayLoop: d.last<number>('delay_loop') ?? 60,
      retry: d.last<number>('retry'),
      delayBeforeRetry: d.last<number>('delay_before_retry'),
      warmup: d.last<number>('warmup'),
      inhibitOnFailure: d.has('inhibit_on_failure'),
      smtpAlert: d.last<boolean>('smtp_alert') ?? this.global.smtpAlertChecker ?? this.global.smtpAlert,
      snmpName: d.last<string>('snmp_name'),
      weight: d.last<number>('weight') ?? 1,
      realServers: [],
      pos: n.pos,
    };
    for (const q of [vs.quorumUp, vs.quorumDown])
      if (q) this.commands.push({ cmd: q, kind: 'notify', owner: `virtual_server ${name}`, side: 'checker' });
    const rss: RealServer[] = [];
    for (const v of d.values<NamedDraft>('real_server')) {
      const rs = this.finishRs(v, vs);
      if (!rs) continue;
      if (rss.some((r) => r.address === rs.address && r.port === rs.port)) {
        this.report(
          'KA_ERR_CONF_DUPLICATE',
          KaClass.GeneralError,
          rs.pos,
          'real_server',
          `real server ${rs.address} ${rs.port ?? ''} defined twice in ${name} - removing the second`,
          'unique real servers',
        );
        continue;
      }
      rss.push(rs);
    }
    // keepalived's validate_check_config (check_data.c), each a config error in its -t exit code
    if (rss.length === 0) {
      this.report(
        'KA_ERR_CONF_MISSING_REQUIRED',
        KaClass.GeneralError,
        n.pos,
        'virtual_server',
        `Virtual server ${name} has no real servers - ignoring`,
        'one or more real_server blocks',
      );
      return undefined;
    }
    if (noProtocol)
      // the kernel takes protocol 0 as UDP; keepalived sets it and counts a configuration error
      this.report(
        'KA_ERR_CONF_MISSING_REQUIRED',
        KaClass.GeneralError,
        n.pos,
        'virtual_server',
        `Virtual server ${name}: no protocol set - defaulting to UDP`,
        "'protocol TCP|UDP|SCTP'",
      );
    const weightSum = rss.reduce((sum, r) => sum + r.weight, 0);
    if (vs.quorum > weightSum) {
      this.report(
        'KA_ERR_CONF_BAD_VALUE',
        KaClass.GeneralError,
        d.entry('quorum')?.node.pos ?? n.pos,
        'quorum',
        `Warning - quorum ${vs.quorum} for ${name} exceeds total weight of real servers ${weightSum}, reducing quorum to ${weightSum}`,
        `quorum <= ${weightSum}`,
      );
      vs.quorum = weightSum;
    }
    if (vs.hysteresis >= vs.quorum) {
      // keepalived's unsigned quorum - 1: with quorum 0 (every weight 0) the service never comes up
      const h = vs.quorum === 0 ? 4294967295 : vs.quorum - 1;
      this.report(
        'KA_ERR_CONF_BAD_VALUE',
        KaClass.GeneralError,
        d.entry('hysteresis')?.node.pos ?? n.pos,
        'hysteresis',
        `Virtual server ${name}: hysteresis ${vs.hysteresis} >= quorum ${vs.quorum}; setting hysteresis to ${h}`,
        `hysteresis < quorum`,
      );
      vs.hysteresis = h;
    }
    vs.realServers = rss;
    return vs;
  }

  private finishRs(nd: NamedDraft, vs: VirtualServer): RealServer | undefined {
    const n = nd.node;
    const d = nd.d;
    // word texts read alone; word objects (positions) only for a diagnostic
    const addr = argText(n, 0);
    const portText = argText(n, 1);
    if (addr === undefined) {
      this.report(
        'KA_ERR_CONF_MISSING_ARG',
        KaClass.MissingParameter,
        nd.node.pos,
        'real_server',
        'real_server without address',
        'IP [PORT]',
      );
      return undefined;
    }
    const ip = parseIpShared(addr);
    if (!ip) {
      this.report(
        'KA_ERR_CONF_BAD_ADDRESS',
        KaClass.GeneralError,
        n.args[0]!.pos,
        'real_server',
        `invalid real server address '${addr}' - skipping`,
        'an IPv4 or IPv6 address',
      );
      return undefined;
    }
    let port = vs.target.kind === 'addr' ? vs.target.port : undefined;
    if (portText !== undefined) {
      const p = parseIntStrict(portText);
      if (p === undefined || p < 0 || p > 65535) {
        this.report(
          'KA_ERR_CONF_BAD_NUMBER',
          KaClass.InvalidNumber,
          n.args[1]!.pos,
          'real_server',
          `invalid port '${portText}' - skipping`,
          'a port 0..65535',
        );
        return undefined;
      }
      port = p;
    }
    const lvsMethod = this.lbKind(d.entry('lvs_method')) ?? vs.lvsMethod;
    if (vs.target.kind === 'addr' && vs.target.family !== ip.family && lvsMethod.method !== 'TUN') {
      this.report(
        'KA_ERR_CONF_BAD_ADDRESS',
        KaClass.GeneralError,
        n.args[0]!.pos,
        'real_server',
        `real server ${ip.address} family differs from virtual server ${vs.name} - skipping`,
        'same family unless tunnelled',
      );
      return undefined;
    }
    const notifyUp = d.last<Command>('notify_up');
    const notifyDown = d.last<Command>('notify_down');
    if (notifyUp)
      this.commands.push({
        cmd: notifyUp,
        kind: 'notify',
        owner: `real_server ${ip.address}`,
        side: 'checker',
      });
    if (notifyDown)
      this.commands.push({
        cmd: notifyDown,
        kind: 'notify',
        owner: `real_server ${ip.address}`,
        side: 'checker',
      });
    const rsTiming = {
      delayLoop: d.last<number>('delay_loop') ?? vs.delayLoop,
      connectTimeout: d.last<number>('connect_timeout') ?? vs.connectTimeout,
      retry: d.last<number>('retry') ?? vs.retry,
      delayBeforeRetry: d.last<number>('delay_before_retry') ?? vs.delayBeforeRetry,
      warmup: d.last<number>('warmup') ?? vs.warmup,
      alpha: d.last<boolean>('alpha') ?? vs.alpha,
      virtualhost: d.last<string>('virtualhost') ?? vs.virtualhost,
    };
    const checkers: Checker[] = [];
    for (let i = d.next('checkers', 0); i >= 0; i = d.next('checkers', i + 3)) {
      const ck = this.finishChecker(d.valueAt<NamedDraft>(i), ip.address, port, rsTiming);
      if (ck) checkers.push(ck);
    }
    return {
      address: ip.address,
      family: ip.family,
      port,
      // unset: the virtual server's weight (keepalived: rs->weight = vs->weight)
      weight: d.last<number>('weight') ?? vs.weight,
      lvsMethod,
      uthreshold: d.last<number>('uthreshold') ?? 0,
      lthreshold: d.last<number>('lthreshold') ?? 0,
      inhibitOnFailure: d.last<boolean>('inhibit_on_failure') ?? vs.inhibitOnFailure,
      notifyUp,
      notifyDown,
      alpha: rsTiming.alpha,
      smtpAlert: d.last<boolean>('smtp_alert') ?? this.global.smtpAlertChecker ?? this.global.smtpAlert,
      virtualhost: rsTiming.virtualhost,
      snmpName: d.last<string>('snmp_name'),
      checkers,
      pos: nd.node.pos,
    };
  }

  private finishChecker(
    nd: NamedDraft,
    rsAddr: string,
    rsPort: number | undefined,
    rs: {
      delayLoop: number;
      connectTimeout: number;
      retry: number | undefined;
      delayBeforeRetry: number | undefined;
      warmup: number | undefined;
      alpha: boolean;
      virtualhost: string | undefined;
    },
  ): Checker | undefined {
    const kind = nd.node.keyword as keyof typeof CHECKERS;
    const d = nd.d;
    const delayLoop = d.last<number>('delay_loop') ?? rs.delayLoop;
    const defRetry = kind === 'DNS_CHECK' ? 3 : kind === 'MISC_CHECK' ? 0 : 1;
    const defDbr = kind === 'HTTP_GET' || kind === 'SSL_GET' ? 3 : kind === 'DNS_CHECK' ? delayLoop : 1;
    // timing and connection fields, in the order the model lists them: the common checkers
    // (TCP_CHECK, PING_CHECK) are this object itself, the others copy it (one object per checker
    // on the common path; spreads of intermediate objects were the hottest line of a large load)
    const base = {
      kind,
      delayLoop,
      retry: d.last<number>('retry') ?? rs.retry ?? defRetry,
      delayBeforeRetry: d.last<number>('delay_before_retry') ?? rs.delayBeforeRetry ?? defDbr,
      warmup: d.last<number>('warmup') ?? rs.warmup,
      alpha: d.last<boolean>('alpha') ?? rs.alpha,
      logAllFailures: d.last<boolean>('log_all_failures') ?? this.global.checkerLogAllFailures,
      pos: nd.node.pos,
      connectIp: d.last<{ address: string }>('connect_ip')?.address ?? rsAddr,
      connectPort: d.last<number>('connect_port') ?? rsPort ?? 0,
      bindto: d.last<{ address: string }>('bindto')?.address,
      bindIf: d.last<string>('bind_if'),
      bindPort: d.last<number>('bind_port'),
      fwmark: d.last<number>('fwmark'),
      connectTimeout: d.last<number>('connect_timeout') ?? rs.connectTimeout,
    };
    switch (kind) {
      case 'HTTP_GET':
      case 'SSL_GET': {
        const urls: UrlModel[] = [];
        for (const e of d.all('url')) {
          const u = this.finishUrl(e.value as NamedDraft);
          if (u) urls.push(u);
        }
        if (urls.length === 0) {
          this.report(
            'KA_ERR_CONF_MISSING_REQUIRED',
            KaClass.GeneralError,
            nd.node.pos,
            kind,
            `${kind} without url - checker removed`,
            'one or more url { path … } blocks',
          );
          return undefined;
        }
        return {
          ...base,
          kind,
          urls,
          virtualhost: d.last<string>('virtualhost') ?? rs.virtualhost,
          httpProtocol: d.last<string>('http_protocol')?.toUpperCase() as '1.0' | '1.0C' | '1.1' | undefined,
          enableSni: d.has('enable_sni'),
          fastRecovery: d.last<boolean>('fast_recovery') ?? false,
        };
      }
      case 'TCP_CHECK':
      case 'PING_CHECK':
        return base as Checker;
      case 'SMTP_CHECK':
        return { ...base, kind, heloName: d.last<string>('helo_name') ?? hostname() };
      case 'DNS_CHECK':
        return {
          ...base,
          kind,
          connectPort: d.last<number>('connect_port') ?? rsPort ?? 53,
          type: (d.last<string>('type')?.toUpperCase() ?? 'SOA') as 'SOA',
          name: d.last<string>('name') ?? '.',
        };
      case 'UDP_CHECK': {
        const rr = d.last<string[]>('require_reply');
        let payload = d.last<string>('payload');
        let reply: string | boolean = rr === undefined ? false : rr.length ? rr.join('') : true;
        const hex = (key: string, text: string, what: string): boolean => {
          if (/^[0-9a-fA-F]+$/.test(text)) return true;
          this.report(
            'KA_ERR_CONF_BAD_VALUE',
            KaClass.GeneralError,
            d.entry(key)!.node.pos,
            key,
            `Invalid hex string for UDP_CHECK ${what}`,
            'hex digits',
          );
          return false;
        };
        if (payload !== undefined && !hex('payload', payload, 'payload')) payload = undefined;
        if (typeof reply === 'string' && !hex('require_reply', reply, 'reply')) reply = false;
        const minReply = d.last<number>('min_reply_length') ?? 0;
        const maxReply = d.last<number>('max_reply_length') ?? 255;
        if (minReply > maxReply)
          this.report(
            'KA_ERR_CONF_CONFLICT',
            KaClass.GeneralError,
            d.entry('min_reply_length')!.node.pos,
            'min_reply_length',
            `UDP_CHECK min_reply length ${minReply} > max_reply_length ${maxReply} - will always fail`,
            'min_reply_length <= max_reply_length',
          );
        return {
          ...base,
          kind,
          payload,
          requireReply: reply,
          minReplyLength: minReply,
          maxReplyLength: maxReply,
        };
      }
      case 'MISC_CHECK': {
        const path = d.last<string>('misc_path');
        if (!path) {
          this.report(
            'KA_ERR_CONF_MISSING_REQUIRED',
            KaClass.GeneralError,
            nd.node.pos,
            kind,
            'MISC_CHECK without misc_path - checker removed',
            'misc_path CMD',
          );
          return undefined;
        }
        const user = d.last<string[]>('user');
        if (this.unknownUser(d, `Failed to set uid/gid for misc checker script '${path}' - removing`))
          return undefined;
        const cmd = makeCommand(path, user?.[0], user?.[1], d.entry('misc_path')!.node.args[0]!.pos);
        this.commands.push({ cmd, kind: 'notify', owner: 'MISC_CHECK', side: 'checker' });
        return {
          ...timingOf(base),
          kind,
          miscPath: cmd,
          miscTimeout: d.last<number>('misc_timeout') ?? delayLoop,
          miscDynamic: d.has('misc_dynamic'),
        };
      }
      case 'FILE_CHECK': {
        const tf = d.last<string>('track_file');
        if (!tf || !this.trackFiles.has(tf)) {
          this.report(
            'KA_ERR_CONF_UNDEFINED_REF',
            KaClass.GeneralError,
            d.entry('track_file')?.node.pos ?? nd.node.pos,
            'track_file',
            `FILE_CHECK track_file '${tf ?? ''}' not found - checker removed`,
            'a track_file defined before',
          );
          return undefined;
        }
        // without its own `weight` line a FILE_CHECK takes its track_file's weight and reverse
        // (keepalived 2.2.7, observed in the IPVS VM: test/kernel/daemon/file-check.test.ts)
        const block = this.trackFiles.get(tf);
        const { weight, reverse } =
          d.entry('weight') === undefined && block
            ? { weight: block.weight, reverse: block.weightReverse }
            : this.weightOf(d.entry('weight'), 2147483647, 1);
        return { ...timingOf(base), kind, trackFile: tf, weight, reverse };
      }
      case 'BFD_CHECK': {
        const name = d.last<string>('name');
        if (!name || !this.bfds.has(name)) {
          this.report(
            'KA_ERR_CONF_UNDEFINED_REF',
            KaClass.GeneralError,
            d.entry('name')?.node.pos ?? nd.node.pos,
            'name',
            `BFD_CHECK bfd '${name ?? ''}' not found - checker removed`,
            'a bfd_instance defined before',
          );
          return undefined;
        }
        return { ...timingOf(base), kind, name };
      }
      default:
        return undefined;
    }
  }

  private finishUrl(nd: NamedDraft): UrlModel | undefined {
    const d = nd.d;
    const path = d.last<string>('path');
    // keepalived takes an empty path ("") as given
    if (path === undefined) {
      this.report(
        'KA_ERR_CONF_MISSING_REQUIRED',
        KaClass.GeneralError,
        nd.node.pos,
        'url',
        'url block without path - ignoring',
        'path /…',
      );
      return undefined;
    }
    const codes: (number | readonly [number, number])[] = [];
    for (const e of d.all('status_code')) {
      for (const [i, w] of (e.value as string[]).entries()) {
        const m = /^(\d{3})(?:-(\d{3}))?$/.exec(w);
        if (!m || Number(m[1]) < 100 || Number(m[2] ?? m[1]) > 599 || Number(m[2] ?? m[1]) < Number(m[1])) {
          this.report(
            'KA_ERR_CONF_BAD_NUMBER',
            KaClass.InvalidNumber,
            e.node.args[i]?.pos,
            'status_code',
            `invalid status code '${w}'`,
            'N or A-B with codes 100..599',
          );
          continue;
        }
        codes.push(m[2] ? [Number(m[1]), Number(m[2])] : Number(m[1]));
      }
    }
    const digest = d.last<string>('digest');
    if (digest !== undefined && !/^[0-9a-fA-F]{32}$/.test(digest)) {
      this.report(
        'KA_ERR_CONF_BAD_VALUE',
        KaClass.GeneralError,
        d.entry('digest')!.node.args[0]?.pos,
        'digest',
        `invalid MD5 digest '${digest}'`,
        '32 hexadecimal digits',
      );
    }
    return {
      path,
      digest: digest?.toLowerCase(),
      statusCodes: codes.length ? codes : [[200, 299]],
      virtualhost: d.last<string>('virtualhost'),
      regex: d.last<string[]>('regex')?.[0],
      regexNoMatch: d.has('regex_no_match'),
      regexOptions: d.last<string[]>('regex_options') ?? [],
      regexMinOffset: offsetOf(d.last<string[]>('regex_min_offset')),
      regexMaxOffset: offsetOf(d.last<string[]>('regex_max_offset')),
      pos: nd.node.pos,
    };
  }

  // ---- script checks (config test) ----

  private checkScripts(env: ScriptEnv): void {
    const g = this.global;
    const defaultUser =
      g.scriptUser?.user ?? (env.userExists('keepalived_script') ? 'keepalived_script' : 'root');
    if (g.enableScriptSecurity && !g.scriptUser && defaultUser === 'root' && this.commands.length) {
      this.report(
        'KA_ERR_CONF_SCRIPT_SECURITY',
        KaClass.GeneralError,
        undefined,
        'enable_script_security',
        "default user 'keepalived_script' for script execution does not exist and script_user is not set",
        'a keepalived_script user or script_user',
      );
    }
    let violation = false;
    const haveVs = this.top.has('virtual_server');
    for (const { cmd, kind, owner, side } of this.commands) {
      // keepalived checks scripts in the process that runs them: none without instances / servers
      if (side === 'vrrp' && (this.vrrpBadIf || this.instances.length === 0)) continue;
      if (side === 'checker' && !haveVs) continue;
      const argv0 = cmd.argv[0] ?? '';
      const path = env.resolve(argv0);
      if (!path) {
        if (kind === 'track') {
          this.report(
            'KA_ERR_CONF_UNDEFINED_REF',
            KaClass.GeneralError,
            cmd.pos,
            argv0,
            `Disabling ${owner} since '${argv0}' is not found/accessible`,
            'an existing executable',
          );
          const name = owner.startsWith('vrrp_script ') ? owner.slice(12) : undefined;
          if (name) this.scripts.delete(name);
        }
        continue;
      }
      const user = cmd.user ?? defaultUser;
      if (user !== 'root') continue;
      if (!g.enableScriptSecurity) violation = true;
      else if (env.unsafe(path)) {
        this.report(
          'KA_ERR_CONF_SCRIPT_SECURITY',
          KaClass.GeneralError,
          cmd.pos,
          argv0,
          `Unsafe permissions found for script '${path}' - disabling`,
          'a script and directories writable only by root',
        );
      }
    }
    if (violation) {
      this.report(
        'KA_ERR_CONF_SCRIPT_SECURITY',
        KaClass.SecurityError,
        undefined,
        'enable_script_security',
        'SECURITY VIOLATION - scripts are being executed but script_security not enabled.',
        'enable_script_security in global_defs',
      );
    }
  }
}

export type { AstWord };
