import { parsePostgresUrl, withDatabase } from '../../src/engines/postgres';

describe('PostgreSQL connection URLs', () => {
  test('the password leaves the URL that goes to argv, from the userinfo or a query parameter', () => {
    const fromUserinfo = parsePostgresUrl('db', 'postgres://app:s%40cret@db.internal:5433/apps?sslmode=require');
    expect(fromUserinfo).toMatchObject({ password: 's@cret', database: 'apps', host: 'db.internal:5433' });
    expect(fromUserinfo.urlWithoutPassword).toBe('postgres://app@db.internal:5433/apps?sslmode=require');
    const fromQuery = parsePostgresUrl('db', 'postgresql://app@db/apps?password=s3cret&application_name=x');
    expect(fromQuery.password).toBe('s3cret');
    expect(fromQuery.urlWithoutPassword).not.toContain('s3cret');
    expect(fromQuery.urlWithoutPassword).toContain('application_name=x');
  });

  test('a dbname query parameter names the database, as libpq reads it; withDatabase replaces it', () => {
    // Drop/create and pg_restore must aim at the database libpq would connect to, not at the path.
    expect(parsePostgresUrl('db', 'postgres://u:p@h/apps?dbname=apps_sandbox').database).toBe('apps_sandbox');
    const maintenance = withDatabase('postgres://u:p@h/apps?dbname=apps_sandbox&sslmode=require', 'postgres');
    expect(parsePostgresUrl('db', maintenance).database).toBe('postgres');
    expect(maintenance).toContain('sslmode=require');
    expect(maintenance).not.toContain('dbname');
  });

  test('a URL that is not postgres fails clearly, without echoing it', () => {
    expect(() => parsePostgresUrl('db', 'mysql://u:hunter2@h/d')).toThrow(/must start with postgres:\/\//);
    expect(() => parsePostgresUrl('db', 'not a url hunter2')).toThrow(/not a valid URL/);
    try {
      parsePostgresUrl('db', 'mysql://u:hunter2@h/d');
    } catch (error) {
      expect((error as Error).message).not.toContain('hunter2');
    }
  });
});
