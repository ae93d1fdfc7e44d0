/** Placeholder: retention pruning activities (being written). */
export {};
