/** Placeholder: the prune workflow (being written). */
export {};
