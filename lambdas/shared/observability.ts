/** Powertools logger shared by every handler: JSON lines with service, function and trace ids. */
import { Logger } from '@aws-lambda-powertools/logger';

export const logger = new Logger({ serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? 'baton' });

export function logLine(line: Record<string, unknown>): void {
  const { level, message, ...rest } = line;
  const text = typeof message === 'string' ? message : 'event';
  if (level === 'error') logger.error(text, rest);
  else if (level === 'warn') logger.warn(text, rest);
  else logger.info(text, rest);
}
