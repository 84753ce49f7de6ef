// System metric keys (`system/cpu.percent`, `system/gpu.0.util`) grouped for the charts:
// CPU, memory, disk, network, GPU (one group per device), then the rest.

export interface SystemGroup {
  id: string;
  label: string;
  keys: string[];
}

const ORDER = ["cpu", "memory", "disk", "network", "gpu", "other"];
const LABELS: Record<string, string> = { cpu: "CPU", memory: "Memory", disk: "Disk", network: "Network", gpu: "GPU", other: "Other" };

/** The group a system key belongs to: `{id, label}`, GPU groups per device (`gpu.0`). */
export function systemGroupOf(key: string): { id: string; label: string } {
  const name = key.startsWith("system/") ? key.slice("system/".length) : key;
  const parts = name.split(/[./]/);
  // process metrics (`proc.cpu.percent`) join the group of what they measure
  const head = (parts[0] === "proc" ? parts[1] : parts[0])?.toLowerCase() ?? "";
  if (head.startsWith("gpu")) {
    const dev = parts[0] === "gpu" && parts[1] !== undefined && /^\d+$/.test(parts[1]) ? parts[1] : null;
    return dev === null ? { id: "gpu", label: "GPU" } : { id: `gpu.${dev}`, label: `GPU ${dev}` };
  }
  if (head === "cpu" || head === "load") return { id: "cpu", label: LABELS.cpu as string };
  if (head === "memory" || head === "mem" || head === "swap" || head === "rss") return { id: "memory", label: LABELS.memory as string };
  if (head === "disk" || head === "io") return { id: "disk", label: LABELS.disk as string };
  if (head === "network" || head === "net") return { id: "network", label: LABELS.network as string };
  return { id: "other", label: LABELS.other as string };
}

function rank(id: string): [number, number] {
  const base = id.startsWith("gpu") ? "gpu" : id;
  const dev = id.startsWith("gpu.") ? Number(id.slice(4)) : -1;
  return [ORDER.indexOf(base), dev];
}

/** `keys` grouped (keys sorted within a group), groups in the order CPU, memory, disk, network, GPUs, other. */
export function groupSystemKeys(keys: readonly string[]): SystemGroup[] {
  const groups = new Map<string, SystemGroup>();
  for (const key of [...new Set(keys)].sort()) {
    const g = systemGroupOf(key);
    let group = groups.get(g.id);
    if (group === undefined) {
      group = { id: g.id, label: g.label, keys: [] };
      groups.set(g.id, group);
    }
    group.keys.push(key);
  }
  return [...groups.values()].sort((a, b) => {
    const [ra, da] = rank(a.id);
    const [rb, db] = rank(b.id);
    return ra - rb || da - db;
  });
}
