/** The local market's instance types: real processes, priced like a small cloud so the ledger means something. */
export interface LocalType {
  name: string;
  vcpus: number;
  memoryGiB: number;
  spotPerHour: number;
  onDemandPerHour: number;
}

export const LOCAL_TYPES: readonly LocalType[] = [
  { name: "local.small", vcpus: 1, memoryGiB: 2, spotPerHour: 0.03, onDemandPerHour: 0.1 },
  { name: "local.medium", vcpus: 2, memoryGiB: 8, spotPerHour: 0.12, onDemandPerHour: 0.4 },
  { name: "local.large", vcpus: 4, memoryGiB: 16, spotPerHour: 0.46, onDemandPerHour: 1.5 },
];

export const localType = (name: string): LocalType | undefined => LOCAL_TYPES.find((t) => t.name === name);
export const LOCAL_ZONE = "local-1a";
