import { compileGraph, type CompileResult } from './compiler.ts';
import { graphHash, type Graph } from './graph.ts';

/** In-memory LRU of compile results keyed by graph hash (the strategy service adds Redis on top). */
export class CompileCache {
  private readonly map = new Map<string, CompileResult>();
  hits = 0;
  misses = 0;
  constructor(private readonly capacity = 1000) {}
  compile(graph: Graph | unknown): CompileResult & { hash?: string } {
    let hash: string | undefined;
    try {
      hash = graphHash(graph as Graph);
    } catch {
      return compileGraph(graph);
    }
    const hit = this.map.get(hash);
    if (hit) {
      this.hits++;
      this.map.delete(hash);
      this.map.set(hash, hit);
      return { ...hit, hash };
    }
    this.misses++;
    const r = compileGraph(graph);
    this.map.set(hash, r);
    if (this.map.size > this.capacity) this.map.delete(this.map.keys().next().value!);
    return { ...r, hash };
  }
}
