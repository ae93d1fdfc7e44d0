import { parsePostgresUrl } from '../../src/engines/postgres';

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
