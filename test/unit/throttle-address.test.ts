import { expect } from 'chai';
import { throttleAddress } from '../../shared/platform/throttle';

describe('throttle: the address a failure counts against', () => {
  it('IPv4 as is', () => {
    expect(throttleAddress('203.0.113.7')).to.equal('203.0.113.7');
  });

  it('IPv4-mapped IPv6 as the IPv4 address (dotted or hex tail)', () => {
    expect(throttleAddress('::ffff:127.0.0.1')).to.equal('127.0.0.1');
    expect(throttleAddress('::FFFF:203.0.113.7')).to.equal('203.0.113.7');
    expect(throttleAddress('::ffff:cb00:7107')).to.equal('203.0.113.7');
  });

  it('IPv6 by its /64: addresses of one /64 share a counter, another /64 does not', () => {
    const a = throttleAddress('2001:db8:1:2::1');
    expect(a).to.equal('2001:db8:1:2::/64');
    expect(throttleAddress('2001:0DB8:0001:0002:ffff:ffff:ffff:fffe')).to.equal(a);
    expect(throttleAddress('2001:db8:1:2:dead:beef::9%eth0')).to.equal(a);
    expect(throttleAddress('2001:db8:1:3::1')).to.not.equal(a);
    expect(throttleAddress('::1')).to.equal('0:0:0:0::/64');
    expect(throttleAddress('fe80::1')).to.equal('fe80:0:0:0::/64');
  });

  it('anything else is kept, a missing address is one bucket', () => {
    expect(throttleAddress(undefined)).to.equal('unknown');
    expect(throttleAddress('unknown')).to.equal('unknown');
  });
});
