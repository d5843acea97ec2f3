// deploy_uniswap.mjs — test fixture for the DEX gateway: deploys WETH9, two
// ERC20 test tokens (BASE "TKA", QUOTE "TKB", 18 decimals, from
// @uniswap/v2-core's build/ERC20.json), UniswapV2Factory and
// UniswapV2Router02 on a local anvil node, adds liquidity to the TKA/TKB
// pair and funds a trader account, then prints one JSON object with the
// addresses on stdout.
//
// Usage: node tests/gateway/deploy_uniswap.mjs RPC_URL
//
// Setup transactions use anvil's unlocked dev accounts (eth_sendTransaction,
// no signing): accounts[0] deploys and provides liquidity, accounts[1] is
// the trader (its private key is anvil's well-known dev key #1, which the
// tests hand to the gateway). Function selectors are spelled out (node has
// no Keccak-256); each is the first 4 bytes of keccak256("name(types)").
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const url = process.argv[2];
if (!url) {
    console.error('usage: node deploy_uniswap.mjs RPC_URL');
    process.exit(2);
}

const load = (p) => require(p);
const ERC20 = load('@uniswap/v2-core/build/ERC20.json');
const Factory = load('@uniswap/v2-core/build/UniswapV2Factory.json');
const Router = load('@uniswap/v2-periphery/build/UniswapV2Router02.json');
const WETH = load('@uniswap/v2-periphery/build/WETH9.json');

let id = 0;
async function rpc(method, params) {
    const r = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ jsonrpc: '2.0', id: ++id, method, params }),
    });
    const j = await r.json();
    if (j.error) throw new Error(`${method}: ${JSON.stringify(j.error)}`);
    return j.result;
}

const hex = (n) => '0x' + BigInt(n).toString(16);
const word = (n) => BigInt(n).toString(16).padStart(64, '0');
const addr = (a) => a.toLowerCase().replace(/^0x/, '').padStart(64, '0');
const bytecode = (j) => {
    const b = j.bytecode || j.evm.bytecode.object;
    return b.startsWith('0x') ? b : '0x' + b;
};

async function waitReceipt(hash) {
    for (let i = 0; i < 200; i++) {
        const r = await rpc('eth_getTransactionReceipt', [hash]);
        if (r) {
            if (r.status !== '0x1') throw new Error(`transaction ${hash} reverted`);
            return r;
        }
        await new Promise((res) => setTimeout(res, 10));
    }
    throw new Error(`no receipt for ${hash}`);
}

let gasPrice = null; // legacy fee field: works before and after London
async function send(from, to, data, value) {
    if (!gasPrice) gasPrice = hex(BigInt(await rpc('eth_gasPrice', [])) * 2n);
    const tx = { from, data, gas: hex(6000000), gasPrice };
    if (to) tx.to = to;
    if (value) tx.value = hex(value);
    const hash = await rpc('eth_sendTransaction', [tx]);
    return waitReceipt(hash);
}

async function deploy(from, artifact, ctorArgs = '') {
    const r = await send(from, null, bytecode(artifact) + ctorArgs);
    return r.contractAddress;
}

const SEL = {
    transfer: 'a9059cbb', // transfer(address,uint256)
    approve: '095ea7b3', // approve(address,uint256)
    addLiquidity: 'e8e33700', // addLiquidity(address,address,uint256,uint256,uint256,uint256,address,uint256)
    getPair: 'e6a43905', // getPair(address,address)
    deposit: 'd0e30db0', // deposit()
};

const E18 = 10n ** 18n;
const [owner, trader] = await rpc('eth_accounts', []);
const weth = await deploy(owner, WETH);
const base = await deploy(owner, ERC20, word(1000000n * E18));
const quote = await deploy(owner, ERC20, word(1000000n * E18));
const factory = await deploy(owner, Factory, addr(owner));
const router = await deploy(owner, Router, addr(factory) + addr(weth));

// Pool TKA/TKB: 1000 TKA against 2000 TKB (price 2 TKB per TKA).
const liqBase = 1000n * E18;
const liqQuote = 2000n * E18;
const maxU = (1n << 256n) - 1n;
await send(owner, base, '0x' + SEL.approve + addr(router) + word(maxU));
await send(owner, quote, '0x' + SEL.approve + addr(router) + word(maxU));
await send(owner, router, '0x' + SEL.addLiquidity + addr(base) + addr(quote) + word(liqBase) +
    word(liqQuote) + word(0) + word(0) + addr(owner) + word(9999999999n));
const pairWord = await rpc('eth_call', [{ to: factory, data: '0x' + SEL.getPair + addr(base) +
    addr(quote) }, 'latest']);
const pair = '0x' + pairWord.slice(-40);

// The trader gets 100 TKA and 100 TKB (and has anvil's 10000 ETH).
await send(owner, base, '0x' + SEL.transfer + addr(trader) + word(100n * E18));
await send(owner, quote, '0x' + SEL.transfer + addr(trader) + word(100n * E18));

console.log(JSON.stringify({ weth, base, quote, factory, router, pair, owner, trader }));
