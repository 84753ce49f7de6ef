import { describe, expect, it } from "vitest";
import { groupSystemKeys, systemGroupOf } from "./systemGroups";

describe("groupSystemKeys", () => {
  it("groups the sampler's keys as CPU, memory, disk, network, GPUs, other", () => {
    const keys = [
      "system/network.sent_mb",
      "system/gpu.1.util",
      "system/cpu.percent",
      "system/disk.read_mb",
      "system/proc.memory.rss_mb",
      "system/memory.percent",
      "system/gpu.0.memory_mb",
      "system/gpu.0.util",
      "system/proc.cpu.percent",
      "system/fan_rpm",
      "system/disk.percent",
      "system/network.recv_mb",
    ];
    expect(groupSystemKeys(keys).map((g) => [g.id, g.label, g.keys])).toEqual([
      ["cpu", "CPU", ["system/cpu.percent", "system/proc.cpu.percent"]],
      ["memory", "Memory", ["system/memory.percent", "system/proc.memory.rss_mb"]],
      ["disk", "Disk", ["system/disk.percent", "system/disk.read_mb"]],
      ["network", "Network", ["system/network.recv_mb", "system/network.sent_mb"]],
      ["gpu.0", "GPU 0", ["system/gpu.0.memory_mb", "system/gpu.0.util"]],
      ["gpu.1", "GPU 1", ["system/gpu.1.util"]],
      ["other", "Other", ["system/fan_rpm"]],
    ]);
  });

  it("orders GPUs numerically and drops duplicates", () => {
    const groups = groupSystemKeys(["system/gpu.10.util", "system/gpu.2.util", "system/gpu.2.util", "system/gpu.util"]);
    expect(groups.map((g) => g.id)).toEqual(["gpu", "gpu.2", "gpu.10"]);
    expect(groups[1]?.keys).toEqual(["system/gpu.2.util"]);
  });

  it("accepts keys without the system/ prefix and slash separators", () => {
    expect(systemGroupOf("cpu")).toEqual({ id: "cpu", label: "CPU" });
    expect(systemGroupOf("system/net/recv")).toEqual({ id: "network", label: "Network" });
    expect(groupSystemKeys([])).toEqual([]);
  });
});
