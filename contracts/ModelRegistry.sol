// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title Registry of models that jobs may name: modelHash (keccak256 of the ONNX file) -> owner, URI.
contract ModelRegistry {
    struct Model {
        address owner;
        string uri;
    }

    mapping(bytes32 => Model) private models;

    event ModelRegistered(bytes32 indexed modelHash, address indexed owner, string uri);

    error ModelAlreadyRegistered(bytes32 modelHash);
    error ZeroModelHash();

    function register(bytes32 modelHash, string calldata uri) external {
        if (modelHash == bytes32(0)) revert ZeroModelHash();
        if (models[modelHash].owner != address(0)) revert ModelAlreadyRegistered(modelHash);
        models[modelHash] = Model({owner: msg.sender, uri: uri});
        emit ModelRegistered(modelHash, msg.sender, uri);
    }

    function isRegistered(bytes32 modelHash) external view returns (bool) {
        return models[modelHash].owner != address(0);
    }

    function modelOf(bytes32 modelHash) external view returns (address owner, string memory uri) {
        Model storage m = models[modelHash];
        return (m.owner, m.uri);
    }
}
