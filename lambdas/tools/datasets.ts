/**
 * Dataset names as the db tool's tables: shared by the tool (db.ts) and the data agent, which
 * names the tables in its queries without carrying the tool's SQLite.
 */

/** `sales-2024.csv` → `sales_2024`. */
export function tableName(datasetName: string): string {
  const base = datasetName.replace(/\.(csv|json)$/i, '').replace(/[^A-Za-z0-9_]/g, '_');
  return /^[A-Za-z_]/.test(base) ? base : `t_${base}`;
}
