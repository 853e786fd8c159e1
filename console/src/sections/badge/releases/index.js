// This area's pages, as the badge section's navigation lists them.
export const nav = []
